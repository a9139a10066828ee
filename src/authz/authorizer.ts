import { hash, randomUUID } from 'node:crypto';
import { Inject, Injectable, Logger, type OnModuleDestroy } from '@nestjs/common';
import type { AuthorizationInfo } from '../auth/realm.js';
import { RealmRegistry } from '../auth/realm.registry.js';
import {
  AuthorizationError,
  InvalidPermissionError,
  UnauthenticatedError,
  YosaiError,
} from '../errors/yosai.errors.js';
import type { ResolvedYosaiConfig } from '../options/yosai-options.interface.js';
import { GuardedStore } from '../session/guarded-store.js';
import { SessionManager } from '../session/session.manager.js';
import type { Session } from '../session/session.js';
import { YosaiEventPublisher } from '../session/yosai-event.publisher.js';
import { YOSAI_AUTHORIZATION_DENIED, YOSAI_AUTHORIZATION_GRANTED } from '../yosai.constants.js';
import { YOSAI_CONFIG } from '../yosai.internal-constants.js';
import { AuthorizationDeniedEvent, AuthorizationGrantedEvent } from './authorization.events.js';
import { WildcardPermission } from './wildcard-permission.js';

/** A permission to check: wildcard text (`lane:read:7`) or a `WildcardPermission`. */
export type PermissionLike = string | WildcardPermission;

/** Whether a check demands all of its requirements, or any one of them. */
export type Logical = 'all' | 'any';

/** What one check asks: roles or permissions, and how they combine. */
export interface AuthorizationCheck {
  readonly kind: 'role' | 'permission';
  /** Roles, or permissions; a `null` permission is one that cannot be met (a route parameter was empty). */
  readonly required: readonly (PermissionLike | null)[];
  readonly logical: Logical;
  /**
   * How each requirement is named in the error and the events, when it should not be its filled-in text (a
   * decorator names `lane:read:{lane}`, not the request's value).
   */
  readonly labels?: readonly string[];
}

/** Roles and permissions of one session, as the realms gave them. */
interface Grants {
  readonly principal: string;
  readonly roles: ReadonlySet<string>;
  readonly permissions: readonly WildcardPermission[];
  /** The principal's invalidation record when these were read from the realms (null: none existed). */
  readonly epoch: string | null;
  /** When the invalidation record was last compared (this process's clock). */
  checkedAt: number;
}

/** Prefix of the store ids of invalidation records; a session id is a bare hash, so the two never meet. */
const EPOCH_PREFIX = 'yosai-authz-epoch:';

/**
 * Roles and permissions of Subjects: read from the realms once per session and kept in this process (bounded,
 * least recently used first out), dropped when the session stops or expires (the life cycle's notification
 * point), and when the app calls {@link invalidateAuthorization}. Other instances learn of an invalidation from a
 * small record in the session store, which each reads at most once per `authorizationCacheTtlMs` per session.
 *
 * Inject it to invalidate: `constructor(private readonly authorizer: Authorizer) {}`.
 */
@Injectable()
export class Authorizer implements OnModuleDestroy {
  private readonly logger = new Logger('Authorizer');
  private readonly store: GuardedStore;
  /** Session id → grants, in least-recently-used-first order (a Map keeps insertion order). */
  private readonly cache = new Map<string, Grants>();
  /** Loads in flight, so concurrent checks of one session call the realms once. */
  private readonly loading = new Map<string, Promise<Grants>>();
  /** Bumped by every local drop: a load that began before it must not be cached. */
  private generation = 0;

  constructor(
    @Inject(YOSAI_CONFIG) private readonly config: ResolvedYosaiConfig,
    manager: SessionManager,
    private readonly realms: RealmRegistry,
    private readonly events: YosaiEventPublisher,
  ) {
    this.store = new GuardedStore(config.store, config.storeTimeoutMs);
    // Stopped (logout, replacement at login or regeneration) or expired: the grants go with the session.
    manager.addListener((change) => {
      if (change.type !== 'started') this.forget(change.id);
    });
  }

  onModuleDestroy(): void {
    this.store.close();
  }

  /** @internal How many sessions' grants this instance holds (for tests of the cache's life). */
  get cachedSessions(): number {
    return this.cache.size;
  }

  /**
   * Drops the cached roles and permissions of every session of this principal (the primary identifier), here at
   * once and on other instances at their next check after at most `authorizationCacheTtlMs`. Call it after
   * changing a user's roles or permissions; then regenerate that user's session id if the change raised them
   * (`subject.regenerateSession()`), as for any privilege change.
   * @throws SessionStoreError when the invalidation record cannot be written (this instance has dropped its copy).
   */
  async invalidateAuthorization(principal: string): Promise<void> {
    if (typeof principal !== 'string' || principal.length === 0) {
      throw new YosaiError('invalidateAuthorization() needs the principal: a non-empty primary identifier.');
    }
    this.generation++;
    for (const [id, grants] of this.cache) if (grants.principal === principal) this.cache.delete(id);
    // No cached grants can be older than the longest session, so the record need not outlive one.
    const ttl = this.config.absoluteTimeoutMs + this.config.authorizationCacheTtlMs;
    await this.store.set(epochId(principal), randomUUID(), ttl);
  }

  /** @internal Whether the session's identity has each role (false for a guest). Use `Subject.hasRole`. */
  async hasRoles(session: Session | null, roles: readonly string[]): Promise<boolean[]> {
    const grants = await this.grantsOf(session);
    return roles.map((role) => !!grants && grants.roles.has(role));
  }

  /** @internal Whether the session's identity has each permission (false for a guest). Use `Subject.isPermitted`. */
  async arePermitted(session: Session | null, permissions: readonly PermissionLike[]): Promise<boolean[]> {
    const wanted = permissions.map(toPermission);
    const grants = await this.grantsOf(session);
    return wanted.map((permission) => !!grants && permitted(grants, permission));
  }

  /**
   * @internal Enforces a check and reports it as `yosai.authorization.granted` or `.denied`. Use
   * `Subject.checkRole` / `checkPermission`, or the decorators.
   * @throws UnauthenticatedError for a guest
   * @throws AuthorizationError when the check fails
   */
  async check(session: Session | null, check: AuthorizationCheck): Promise<void> {
    const wanted =
      check.kind === 'permission' ? check.required.map((p) => (p === null ? null : toPermission(p))) : null;
    const grants = await this.grantsOf(session);
    if (!session || !grants) throw new UnauthenticatedError();
    const met =
      wanted !== null
        ? wanted.map((permission) => permission !== null && permitted(grants, permission))
        : check.required.map((role) => grants.roles.has(String(role)));
    const labels = check.labels ?? check.required.map((r) => String(r));
    const ok = check.logical === 'any' ? met.some(Boolean) : met.every(Boolean);
    const at = this.config.clock.now();
    if (ok) {
      this.events.publish(
        YOSAI_AUTHORIZATION_GRANTED,
        new AuthorizationGrantedEvent(session.id, grants.principal, check.kind, labels, check.logical, at),
      );
      return;
    }
    // Name only what was checked: with 'all', the first unmet requirement, not the list of everything lacking.
    const missing = check.logical === 'any' ? labels : [labels[met.indexOf(false)]];
    this.events.publish(
      YOSAI_AUTHORIZATION_DENIED,
      new AuthorizationDeniedEvent(session.id, grants.principal, check.kind, missing, check.logical, at),
    );
    throw new AuthorizationError(check.kind, missing, check.logical);
  }

  /** The session's grants: cached, revalidated against the invalidation record when due, else loaded. */
  private async grantsOf(session: Session | null): Promise<Grants | null> {
    const principal = session?.identifiers?.[0];
    if (!session || session.isStopped || !principal) return null;
    const id = session.id;
    const cached = this.cache.get(id);
    if (cached) {
      const now = this.config.clock.now();
      if (now - cached.checkedAt < this.config.authorizationCacheTtlMs) return this.touch(id, cached);
      const epoch = (await this.store.get(epochId(principal))) ?? null;
      if (epoch === cached.epoch && this.cache.get(id) === cached) {
        cached.checkedAt = now;
        return this.touch(id, cached);
      }
      if (this.cache.get(id) === cached) this.cache.delete(id);
    }
    let pending = this.loading.get(id);
    if (!pending) {
      pending = this.load(session, principal).finally(() => this.loading.delete(id));
      this.loading.set(id, pending);
    }
    return pending;
  }

  private async load(session: Session, principal: string): Promise<Grants> {
    const generation = this.generation;
    const epoch = (await this.store.get(epochId(principal))) ?? null;
    const identifiers = session.identifiers ?? [principal];
    const roles = new Set<string>();
    const permissions: WildcardPermission[] = [];
    for (const realm of await this.realms.realms()) {
      if (typeof realm.getAuthorizationInfo !== 'function') continue;
      const info: AuthorizationInfo | null | undefined = await realm.getAuthorizationInfo(identifiers);
      for (const role of info?.roles ?? []) if (typeof role === 'string') roles.add(role);
      for (const permission of info?.permissions ?? []) {
        try {
          permissions.push(toPermission(permission));
        } catch (error) {
          // A bad grant must not fail every check of the user: it grants nothing, and the app hears of it.
          if (!(error instanceof InvalidPermissionError)) throw error;
          this.logger.error(
            `A realm granted ${principal} a permission that grants nothing: ${error.message}`,
          );
        }
      }
    }
    const grants: Grants = { principal, roles, permissions, epoch, checkedAt: this.config.clock.now() };
    // Not kept when the session ended, or an invalidation came, while the realms were being asked.
    if (!session.isStopped && generation === this.generation) {
      this.cache.set(session.id, grants);
      if (this.cache.size > this.config.authorizationCacheSize) {
        this.cache.delete(this.cache.keys().next().value!);
      }
    }
    return grants;
  }

  private touch(id: string, grants: Grants): Grants {
    this.cache.delete(id);
    this.cache.set(id, grants);
    return grants;
  }

  private forget(id: string): void {
    if (this.cache.delete(id) || this.loading.has(id)) this.generation++;
  }
}

function permitted(grants: Grants, permission: WildcardPermission): boolean {
  return grants.permissions.some((granted) => granted.implies(permission));
}

function toPermission(permission: PermissionLike): WildcardPermission {
  return permission instanceof WildcardPermission ? permission : new WildcardPermission(permission);
}

function epochId(principal: string): string {
  return EPOCH_PREFIX + hash('sha256', principal, 'base64url');
}
