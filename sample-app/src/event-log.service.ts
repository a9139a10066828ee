import { Injectable } from '@nestjs/common';
import { OnEvent } from '@nestjs/event-emitter';
import {
  LoginFailedEvent,
  LoginSucceededEvent,
  SessionExpiredEvent,
  SessionStartedEvent,
  SessionStoppedEvent,
  YOSAI_LOGIN_FAILED,
  YOSAI_LOGIN_SUCCEEDED,
  YOSAI_SESSION_EXPIRED,
  YOSAI_SESSION_STARTED,
  YOSAI_SESSION_STOPPED,
} from 'nestjs-yosai';
import { LIMITS } from './sample.config.js';

/** One entry of `GET /api/events`. */
export interface LoggedEvent {
  readonly name: string;
  /** Public session id (a hash of the token), or null. */
  readonly sessionId: string | null;
  /**
   * `logout` | `stopped` | `regenerated` for stopped, `idle` | `absolute` for expired, `credentials` | `throttled`
   * for a failed login, else null.
   */
  readonly reason: string | null;
  /** Identifiers of the session's owner; null for a guest and for a failed login. */
  readonly identifiers: readonly string[] | null;
  /** Epoch milliseconds. */
  readonly at: number;
}

/**
 * Keeps the last {@link LIMITS.events} events the module emitted, oldest first.
 *
 * A wildcard listener receives only the payload, not the event name, so the name is recovered from the
 * payload's class (each event has its own exported class).
 */
@Injectable()
export class EventLogService {
  private readonly entries: LoggedEvent[] = [];

  @OnEvent('yosai.**')
  record(payload: unknown): void {
    const entry = toEntry(payload);
    if (!entry) return;
    this.entries.push(entry);
    if (this.entries.length > LIMITS.events) this.entries.splice(0, this.entries.length - LIMITS.events);
  }

  /** A copy of the log, oldest first. */
  list(): LoggedEvent[] {
    return [...this.entries];
  }
}

function toEntry(payload: unknown): LoggedEvent | null {
  if (payload instanceof SessionStartedEvent) {
    return entry(YOSAI_SESSION_STARTED, payload.sessionId, null, payload.identifiers, payload.at);
  }
  if (payload instanceof SessionStoppedEvent) {
    return entry(YOSAI_SESSION_STOPPED, payload.sessionId, payload.reason, payload.identifiers, payload.at);
  }
  if (payload instanceof SessionExpiredEvent) {
    return entry(YOSAI_SESSION_EXPIRED, payload.sessionId, payload.reason, payload.identifiers, payload.at);
  }
  if (payload instanceof LoginSucceededEvent) {
    return entry(YOSAI_LOGIN_SUCCEEDED, payload.sessionId, null, payload.identifiers, payload.at);
  }
  if (payload instanceof LoginFailedEvent) {
    // The attempted username stays out of this public list: people type passwords into that field.
    return entry(YOSAI_LOGIN_FAILED, null, payload.reason, null, payload.at);
  }
  return null;
}

function entry(
  name: string,
  sessionId: string | null,
  reason: string | null,
  identifiers: readonly string[] | null,
  at: number,
): LoggedEvent {
  return { name, sessionId, reason, identifiers: identifiers ? [...identifiers] : null, at };
}
