import { Injectable } from '@nestjs/common';
import { YosaiError } from '../errors/yosai.errors.js';
import { isWellFormedSessionId } from './session-token.js';
import type { Session } from './session.js';
import { SessionManager, type SessionInfo } from './session.manager.js';

/**
 * Every session of a principal (a user's primary identifier): list them, sign one out, sign out every other
 * device, or every device ("sign out everywhere", e.g. on a password change). Inject it:
 * `constructor(private readonly registry: SessionRegistry) {}`.
 *
 * It reads the store's principal index, which the store keeps atomically with the records (a login joins it, every
 * end of a session leaves it), so a list never shows a session that ended. Each stop goes through the same delete as
 * a logout and emits `yosai.session.stopped` with reason `revoked`; a session found past its timeout is expired
 * instead (one `yosai.session.expired`).
 *
 * Needs the module option `principalIndex: true` (or `maxSessionsPerPrincipal`), with a store that has the principal
 * index: `CacheManagerSessionStore` in memory, or on Redis with the field model (and records not signed with
 * `recordKeys`); with another store the module refuses to start. Without the option every method rejects with
 * `YosaiConfigurationError`.
 */
@Injectable()
export class SessionRegistry {
  constructor(private readonly manager: SessionManager) {}

  /**
   * The principal's live sessions, oldest first, with their metadata.
   * @throws SessionStoreError when the store fails.
   */
  list(principal: string): Promise<SessionInfo[]> {
    return this.manager.sessionsOf(checked(principal));
  }

  /**
   * Stops one session of the principal.
   * @returns true when this call stopped it; false when the id is not one of the principal's live sessions (never
   * stopping another principal's session, so a caller can answer 404 without telling whether the id exists), or not
   * a session id at all (the store is then not asked).
   */
  stop(principal: string, sessionId: string): Promise<boolean> {
    checked(principal);
    this.manager.requireIndex('SessionRegistry');
    if (!isWellFormedSessionId(sessionId)) return Promise.resolve(false);
    return this.manager.stopById(sessionId, 'revoked', principal);
  }

  /**
   * Stops every session of the principal ("sign out everywhere"): one call, e.g. right after a password change.
   * Sessions started while it runs are not included.
   * @returns How many this call stopped.
   */
  stopAll(principal: string): Promise<number> {
    return this.stopAllBut(principal, undefined);
  }

  /**
   * Stops every session of the principal but `current` (a `Session`, or a session id): "sign out other devices".
   * @returns How many this call stopped.
   */
  stopOthers(principal: string, current: Session | string): Promise<number> {
    return this.stopAllBut(principal, typeof current === 'string' ? current : current.id);
  }

  private async stopAllBut(principal: string, keep: string | undefined): Promise<number> {
    const sessions = await this.list(principal);
    const stopped = await Promise.all(
      sessions.filter((s) => s.id !== keep).map((s) => this.manager.stopById(s.id, 'revoked', principal)),
    );
    return stopped.filter(Boolean).length;
  }
}

function checked(principal: string): string {
  if (typeof principal !== 'string' || principal.length === 0) {
    throw new YosaiError('SessionRegistry needs the principal: a non-empty primary identifier.');
  }
  return principal;
}
