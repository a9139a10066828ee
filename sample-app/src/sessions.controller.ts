import { Controller, Delete, Get, HttpCode, NotFoundException, Param, Post } from '@nestjs/common';
import {
  CurrentSubject,
  RequiresAuthentication,
  RequiresPermissions,
  SessionRegistry,
  Subject,
} from 'nestjs-yosai';
import { LIMITS } from './sample.config.js';

/** One of the signed-in user's sessions, as `GET /api/sessions` lists it (times in epoch ms). */
export interface SessionListEntry {
  id: string;
  startedAt: number;
  lastAccessedAt: number;
  host: string | null;
  /** True for the session that made the request. */
  current: boolean;
}

/**
 * Every session of a user, through `SessionRegistry`: the signed-in user's own (list, sign one out, sign out the
 * others), and every session of any user for a league manager. Stops emit `yosai.session.stopped`, reason
 * `revoked`.
 */
@Controller('api')
export class SessionsController {
  constructor(private readonly registry: SessionRegistry) {}

  /** The signed-in user's live sessions, oldest first. 401 for a guest. */
  @Get('sessions')
  @RequiresAuthentication()
  async list(@CurrentSubject() subject: Subject): Promise<SessionListEntry[]> {
    const current = subject.session?.id;
    const sessions = await this.registry.list(subject.primaryIdentifier!);
    return sessions.map((s) => ({
      id: s.id,
      startedAt: s.startedAt,
      lastAccessedAt: s.lastAccessedAt,
      host: s.host,
      current: s.id === current,
    }));
  }

  /**
   * Signs out one of the caller's own sessions (the current one too). 404 for any other id: another user's session
   * is neither stopped nor told apart from one that does not exist.
   */
  @Delete('sessions/:id')
  @HttpCode(204)
  @RequiresAuthentication()
  async stop(@CurrentSubject() subject: Subject, @Param('id') id: string): Promise<void> {
    if (id.length > LIMITS.sessionIdLength || !(await this.registry.stop(subject.primaryIdentifier!, id))) {
      throw new NotFoundException('No such session');
    }
  }

  /** Signs out every other session of the caller; the caller's own stays valid. */
  @Post('sessions/revoke-others')
  @HttpCode(204)
  @RequiresAuthentication()
  async revokeOthers(@CurrentSubject() subject: Subject): Promise<void> {
    await this.registry.stopOthers(subject.primaryIdentifier!, subject.session!);
  }

  /** Signs out every session of a user: league managers only (walter). 403 for others, 401 for a guest. */
  @Delete('users/:username/sessions')
  @HttpCode(204)
  @RequiresPermissions('league:manage')
  async stopAllOf(@Param('username') username: string): Promise<void> {
    await this.registry.stopAll(username);
  }
}
