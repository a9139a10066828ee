import { SubscribeMessage, WebSocketGateway, type WsResponse } from '@nestjs/websockets';
import { UseGuards } from '@nestjs/common';
import { CurrentSubject, RequiresRoles, Subject, YosaiGuard } from 'nestjs-yosai';
import { SAMPLE_ROLES } from './sample.realm.js';

/**
 * The same Subject over a WebSocket (`ws://localhost:3000/ws`, `@nestjs/platform-ws`): the global YosaiGuard reads
 * the session cookie from the connection's handshake and judges every message again, so a logout over HTTP is seen
 * by the next message. Send `{"event":"whoami","data":{}}`.
 */
@WebSocketGateway({ path: '/ws' })
@UseGuards(YosaiGuard) // Nest 11 does not apply APP_GUARD guards to gateways; on Nest 12 it resolves nothing twice
export class SessionGateway {
  @SubscribeMessage('whoami')
  async whoami(
    @CurrentSubject() subject: Subject,
  ): Promise<WsResponse<{ authenticated: boolean; username: string | null; roles: string[] }>> {
    const has = await subject.hasRoles(SAMPLE_ROLES);
    return {
      event: 'whoami',
      data: {
        authenticated: subject.isAuthenticated,
        username: subject.primaryIdentifier,
        roles: SAMPLE_ROLES.filter((_, i) => has[i]),
      },
    };
  }

  /** Captains only: a guest gets an UNAUTHENTICATED exception frame, a bowler a FORBIDDEN one. */
  @SubscribeMessage('league')
  @RequiresRoles('captain')
  league(): WsResponse<{ ok: true }> {
    return { event: 'league', data: { ok: true } };
  }
}
