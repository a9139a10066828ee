import {
  BadRequestException,
  Body,
  Controller,
  Delete,
  Get,
  HttpCode,
  NotFoundException,
  Param,
  Post,
  Put,
} from '@nestjs/common';
import {
  CurrentSubject,
  RequiresAuthentication,
  RequiresPermissions,
  RequiresRoles,
  SessionSerializationError,
  Subject,
  UsernamePasswordToken,
} from 'nestjs-yosai';
import { EventLogService, type LoggedEvent } from './event-log.service.js';
import { attributeKey, attributeValue, jsonObject, stringField } from './request-input.js';
import { LIMITS } from './sample.config.js';
import { SAMPLE_ROLES } from './sample.realm.js';

/** `GET /api/session`: the session's public details (times in epoch ms). Never the token. */
export interface SessionView {
  id: string;
  startedAt: number;
  lastAccessedAt: number;
  idleTimeoutMs: number;
  absoluteTimeoutMs: number;
  attributes: Record<string, unknown>;
}

/** The JSON API of the sample. `YosaiGuard` is global, so every handler gets the request's Subject. */
@Controller('api')
export class ApiController {
  constructor(private readonly events: EventLogService) {}

  /** Signs in; the session is replaced (new token, attributes carried over). 401 for any bad credentials. */
  @Post('login')
  @HttpCode(200)
  async login(@CurrentSubject() subject: Subject, @Body() body: unknown): Promise<{ username: string }> {
    const input = jsonObject(body);
    const username = stringField(input, 'username', LIMITS.usernameLength);
    const password = stringField(input, 'password', LIMITS.passwordLength);
    // Throws an AuthenticationError on failure; the module's filter answers 401 with one message.
    await subject.login(new UsernamePasswordToken(username, password));
    return { username: subject.primaryIdentifier! };
  }

  /**
   * Replaces the session by a new one (new token, same user and attributes), as after a privilege change.
   * The absolute timeout still counts from the login. 401 for a guest.
   */
  @Post('session/regenerate')
  @HttpCode(200)
  @RequiresAuthentication()
  async regenerate(@CurrentSubject() subject: Subject): Promise<{ id: string }> {
    const session = await subject.regenerateSession();
    return { id: session.id };
  }

  /** Ends the session, if any, and clears the cookie. */
  @Post('logout')
  @HttpCode(204)
  async logout(@CurrentSubject() subject: Subject): Promise<void> {
    await subject.logout();
  }

  /** Who is asking, and their roles (empty for a guest). Reads only; never starts a session. */
  @Get('me')
  async me(
    @CurrentSubject() subject: Subject,
  ): Promise<{ authenticated: boolean; username: string | null; roles: string[] }> {
    const has = await subject.hasRoles(SAMPLE_ROLES);
    return {
      authenticated: subject.isAuthenticated,
      username: subject.primaryIdentifier,
      roles: SAMPLE_ROLES.filter((_, i) => has[i]),
    };
  }

  /** Captains only: 401 for a guest, 403 for a bowler. */
  @Get('league')
  @RequiresRoles('captain')
  league(): { ok: true } {
    return { ok: true };
  }

  /** Needs `lane:read:<lane>`; the parameter is taken literally, so `*` or `a,b` cannot widen the check. */
  @Get('lanes/:lane')
  @RequiresPermissions('lane:read:{lane}')
  lane(@Param('lane') lane: string): { lane: string } {
    return { lane };
  }

  /** Needs `lane:delete:<lane>` (walter has `lane:*`; the dude only reads lanes). */
  @Delete('lanes/:lane')
  @HttpCode(204)
  @RequiresPermissions('lane:delete:{lane}')
  deleteLane(): void {}

  /** Only for a user who signed in during this session. */
  @Get('profile')
  @RequiresAuthentication()
  profile(@CurrentSubject() subject: Subject): { username: string } {
    return { username: subject.primaryIdentifier! };
  }

  /** The current session, or 404. Never starts one. */
  @Get('session')
  session(@CurrentSubject() subject: Subject): SessionView {
    const session = subject.session;
    if (!session) throw new NotFoundException('No session');
    return {
      id: session.id,
      startedAt: session.startedAt,
      lastAccessedAt: session.lastAccessedAt,
      idleTimeoutMs: session.idleTimeoutMs,
      absoluteTimeoutMs: session.absoluteTimeoutMs,
      attributes: session.getAttributes(),
    };
  }

  /** Stores an attribute, starting a guest session when there is none (the seed's cart). */
  @Put('session/attributes/:key')
  @HttpCode(204)
  async putAttribute(
    @CurrentSubject() subject: Subject,
    @Param('key') rawKey: string,
    @Body() body: unknown,
  ): Promise<void> {
    const key = attributeKey(rawKey);
    const value = attributeValue(jsonObject(body));
    const existing = subject.session;
    if (
      existing &&
      !existing.attributeKeys.includes(key) &&
      existing.attributeKeys.length >= LIMITS.attributesPerSession
    ) {
      throw new BadRequestException(`A session holds at most ${LIMITS.attributesPerSession} attributes`);
    }
    const session = await subject.getSession();
    try {
      await session.setAttribute(key, value);
    } catch (error) {
      // The value came from the client: a value no session may hold (nested too deep) is its mistake, a 400.
      if (error instanceof SessionSerializationError) {
        throw new BadRequestException('value cannot be stored in a session (nested too deeply?)');
      }
      throw error;
    }
  }

  /** One attribute, or 404 (also when there is no session). Never starts a session. */
  @Get('session/attributes/:key')
  getAttribute(@CurrentSubject() subject: Subject, @Param('key') rawKey: string): { value: unknown } {
    const key = attributeKey(rawKey);
    const session = subject.session;
    if (!session || !session.attributeKeys.includes(key)) throw new NotFoundException('No such attribute');
    return { value: session.getAttribute(key) };
  }

  /** The last 100 events the app received through `@OnEvent('yosai.**')`, oldest first. */
  @Get('events')
  listEvents(): LoggedEvent[] {
    return this.events.list();
  }
}
