import { Inject, Injectable, type OnModuleInit } from '@nestjs/common';
import { ModuleRef } from '@nestjs/core';
import { YosaiConfigurationError } from '../errors/yosai.errors.js';
import type { ResolvedYosaiConfig } from '../options/yosai-options.interface.js';
import { YOSAI_CONFIG } from '../yosai.internal-constants.js';
import type { Realm, RealmProvider } from './realm.js';

/**
 * The configured realms as instances. A class or token in the options is resolved through Nest at bootstrap, after
 * every provider exists: so a realm may inject the app's `UsersService` while that service injects the module's
 * `PasswordHasher`, which building the realm inside `forRootAsync`'s factory cannot do (a circular dependency).
 * @internal
 */
@Injectable()
export class RealmRegistry implements OnModuleInit {
  private resolved: readonly Realm[] | null = null;
  private resolving: Promise<readonly Realm[]> | null = null;

  constructor(
    @Inject(YOSAI_CONFIG) private readonly config: ResolvedYosaiConfig,
    private readonly moduleRef: ModuleRef,
  ) {}

  async onModuleInit(): Promise<void> {
    await this.resolve();
  }

  /** The realms, in order; resolved once. @throws YosaiConfigurationError when one cannot be resolved. */
  async realms(): Promise<readonly Realm[]> {
    return this.resolved ?? this.resolve();
  }

  private resolve(): Promise<readonly Realm[]> {
    this.resolving ??= (async () => {
      const realms: Realm[] = [];
      for (const provider of this.config.realms) realms.push(await this.instanceOf(provider));
      this.resolved = Object.freeze(realms);
      return this.resolved;
    })();
    return this.resolving;
  }

  private async instanceOf(provider: RealmProvider): Promise<Realm> {
    if (typeof provider === 'object') return provider;
    let instance: unknown;
    try {
      instance = this.moduleRef.get(provider, { strict: false });
    } catch {
      if (typeof provider !== 'function') {
        throw new YosaiConfigurationError(
          `No provider is registered for the realm token ${String(provider)}: add one to a module of your app.`,
          'realm',
        );
      }
      try {
        // Not registered by the app: built here, with its dependencies from the module's scope.
        instance = await this.moduleRef.create(provider);
      } catch (error) {
        throw new YosaiConfigurationError(
          `The realm class ${provider.name} could not be built (${error instanceof Error ? error.message : String(error)}). ` +
            'Register it as a provider in the module that holds its dependencies.',
          'realm',
        );
      }
    }
    const realm = instance as Record<string, unknown> | null;
    if (
      !realm ||
      !['findAccount', 'authenticate', 'getAuthorizationInfo'].some((m) => typeof realm[m] === 'function')
    ) {
      throw new YosaiConfigurationError(
        `The realm ${typeof provider === 'function' ? provider.name : String(provider)} resolved to something that is not a Realm (no findAccount, authenticate or getAuthorizationInfo).`,
        'realm',
      );
    }
    return instance as Realm;
  }
}
