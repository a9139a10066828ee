import { SessionLimitError } from '../errors/yosai.errors.js';
import type { SessionRecord } from './record.codec.js';

/** The most a session may hold. */
export interface SessionLimitsConfig {
  readonly maxAttributes: number;
  readonly maxRecordBytes: number;
}

/** A stored string and what it decodes to (the same shape as the writer's snapshot). */
interface Snapshot {
  readonly raw: string;
  readonly record: SessionRecord;
}

/**
 * Refuses a record that is about to be written when it passes a limit, unless it does not grow past what the
 * record it replaces already had in that dimension: a session over a lowered limit can still shrink, and a
 * touch or an identity change is never refused for data that was already there.
 * @param previous The record being replaced; omitted for a new session.
 * @throws SessionLimitError naming the limit.
 */
export function checkSessionLimits(
  limits: SessionLimitsConfig,
  sessionId: string,
  next: Snapshot,
  previous?: Snapshot,
): void {
  const attributes = Object.keys(next.record.attributes).length;
  if (attributes > limits.maxAttributes) {
    const before = previous ? Object.keys(previous.record.attributes).length : 0;
    if (attributes > before) {
      throw new SessionLimitError(sessionId, 'maxAttributes', limits.maxAttributes, attributes);
    }
  }
  // A UTF-16 code unit is at most 3 UTF-8 bytes: the byte count is needed only when the string could be too long.
  if (next.raw.length * 3 > limits.maxRecordBytes) {
    const bytes = Buffer.byteLength(next.raw, 'utf8');
    if (bytes > limits.maxRecordBytes && bytes > (previous ? Buffer.byteLength(previous.raw, 'utf8') : 0)) {
      throw new SessionLimitError(sessionId, 'maxRecordBytes', limits.maxRecordBytes, bytes);
    }
  }
}
