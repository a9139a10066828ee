import { Module } from '@nestjs/common';
import { APP_FILTER } from '@nestjs/core';
import { Authenticator } from './auth/authenticator.js';
import { LoginThrottle } from './auth/login-throttle.js';
import { VerificationLimiter } from './auth/verification-limiter.js';
import { PasswordHasher } from './auth/password.hasher.js';
import { RealmRegistry } from './auth/realm.registry.js';
import { Authorizer } from './authz/authorizer.js';
// For its effect at load: keeps the maps of Node's tick objects alive (see the module).
import './common/tick-shape.js';
import { SessionRegistry } from './session/session.registry.js';
import { ContextBridge } from './http/context-bridge.js';
import { SubjectAccessor } from './http/subject-accessor.js';
import { TokenTransport } from './http/token-transport.js';
import { YosaiExceptionFilter } from './http/yosai-exception.filter.js';
import { YosaiGuard } from './http/yosai.guard.js';
import type { ResolvedYosaiConfig, YosaiModuleOptions } from './options/yosai-options.interface.js';
import { resolveYosaiOptions } from './options/yosai-options.validator.js';
import { SessionManager } from './session/session.manager.js';
import { SessionSweeper, sweepIntervalFor } from './session/session.sweeper.js';
import { loadEventEmitter, YosaiEventPublisher } from './session/yosai-event.publisher.js';
import { CacheManagerSessionStore } from './store/cache-manager-session.store.js';
import { SessionStore } from './store/session.store.js';
import { SubjectFactory } from './subject/subject.factory.js';
import { TokenSource } from './subject/token-source.js';
import { YOSAI_CONFIG, YOSAI_EVENT_EMITTER_LOADER } from './yosai.internal-constants.js';
import { YosaiConfigurableModule, YOSAI_MODULE_OPTIONS } from './yosai.module-definition.js';

/**
 * Session management after Yosai / Apache Shiro.
 *
 * @example
 * @Module({
 *   imports: [YosaiModule.forRoot({ realm: new UsersRealm(), cookie: { secure: 'auto' } })],
 *   providers: [{ provide: APP_GUARD, useClass: YosaiGuard }],
 * })
 * export class AppModule {}
 */
@Module({
  providers: [
    {
      provide: YOSAI_CONFIG,
      // Validated once, here: a bad option stops the app at bootstrap with a message naming it.
      useFactory: (options: YosaiModuleOptions): ResolvedYosaiConfig => {
        const { closeStoreOnShutdown, ...validated } = resolveYosaiOptions(options);
        const store = validated.store ?? CacheManagerSessionStore.inMemory();
        return Object.freeze({
          ...validated,
          store,
          expirySweepIntervalMs: sweepIntervalFor(
            validated.expirySweepIntervalMs,
            store,
            validated.recordKeys,
          ),
          // The module's own store always; the app's only when handed over.
          ownsStore: validated.store === null || closeStoreOnShutdown,
        });
      },
      inject: [YOSAI_MODULE_OPTIONS],
    },
    {
      provide: SessionStore,
      useFactory: (config: ResolvedYosaiConfig) => config.store,
      inject: [YOSAI_CONFIG],
    },
    {
      provide: PasswordHasher,
      // The floor was checked by the validator (with the same allowWeakParameters switch).
      useFactory: (config: ResolvedYosaiConfig) => new PasswordHasher(config.passwordHashing),
      inject: [YOSAI_CONFIG],
    },
    { provide: YOSAI_EVENT_EMITTER_LOADER, useValue: loadEventEmitter },
    YosaiEventPublisher,
    SessionManager,
    SessionRegistry,
    SessionSweeper,
    RealmRegistry,
    LoginThrottle,
    VerificationLimiter,
    Authenticator,
    Authorizer,
    TokenTransport,
    { provide: TokenSource, useExisting: TokenTransport },
    SubjectFactory,
    YosaiGuard,
    ContextBridge,
    SubjectAccessor,
    { provide: APP_FILTER, useClass: YosaiExceptionFilter },
  ],
  exports: [
    SessionManager,
    SessionRegistry,
    SessionSweeper,
    SubjectFactory,
    SessionStore,
    PasswordHasher,
    YosaiGuard,
    Authorizer,
    SubjectAccessor,
  ],
})
export class YosaiModule extends YosaiConfigurableModule {}
