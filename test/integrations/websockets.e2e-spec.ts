import { Module, UseFilters, UseGuards, type INestApplication } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { IoAdapter } from '@nestjs/platform-socket.io';
import { WsAdapter } from '@nestjs/platform-ws';
import {
  BaseWsExceptionFilter,
  MessageBody,
  SubscribeMessage,
  WebSocketGateway,
  type OnGatewayConnection,
} from '@nestjs/websockets';
import { io, type Socket } from 'socket.io-client';
import request from 'supertest';
import WebSocket from 'ws';
import {
  CurrentSubject,
  RequiresAuthentication,
  RequiresRoles,
  Subject,
  UsernamePasswordToken,
  YosaiExceptionFilter,
  YosaiGuard,
  YosaiModule,
} from '../../src/index.js';
import { PASSWORDS, UsersRealm, UsersService } from '../support/authz-app.js';
import { bootApp, SignInController } from '../support/boot.js';
import { PLATFORMS, sessionCookie, TEST_HASHING, type Platform } from '../support/test-app.js';

// Gateways behind YosaiGuard, with real clients on both WebSocket platforms and both HTTP platforms: the Subject
// comes from the handshake (cookie or header), is judged again on every message, and refusals arrive as the
// transport's own exception, not as "Internal server error".

/**
 * Whether Nest's WebSocket exception filter sends exceptions to a native (`ws`) client. Nest 12 does; Nest 11 only
 * `emit`s them on the server-side socket object (socket.io clients get them on both).
 */
const nativeClientsGetExceptions =
  typeof (BaseWsExceptionFilter.prototype as unknown as { emitMessage?: unknown }).emitMessage === 'function';

// On the gateway itself: Nest 11 does not apply APP_GUARD guards to gateways (Nest 12 does; the guard then runs
// twice per message and resolves the Subject once).
@WebSocketGateway()
@UseGuards(YosaiGuard)
@UseFilters(YosaiExceptionFilter) // Nest 11 applies no global filter to gateways either
class LaneGateway implements OnGatewayConnection {
  /** On Nest 11, what an app does to let `ws` clients see refusals: forward the exceptions Nest emits locally. */
  handleConnection(client: {
    readyState?: unknown;
    on(e: string, f: (d: unknown) => void): void;
    send(s: string): void;
  }) {
    if (nativeClientsGetExceptions || typeof client.readyState !== 'number') return;
    client.on('exception', (data) => client.send(JSON.stringify({ event: 'exception', data })));
  }

  @SubscribeMessage('whoami')
  whoami(@CurrentSubject() subject: Subject) {
    return {
      event: 'whoami',
      data: { username: subject.primaryIdentifier, authenticated: subject.isAuthenticated },
    };
  }

  /** A YosaiError thrown by a handler (a failed login) is answered by the module's filter. */
  @SubscribeMessage('login')
  async login(
    @CurrentSubject() subject: Subject,
    @MessageBody() body: { username?: string; password?: string },
  ) {
    await subject.login(new UsernamePasswordToken(body.username ?? '', body.password ?? ''));
    return { event: 'login', data: {} };
  }

  @SubscribeMessage('secret')
  @RequiresAuthentication()
  secret(@CurrentSubject() subject: Subject) {
    return { event: 'secret', data: { username: subject.primaryIdentifier } };
  }

  @SubscribeMessage('captain')
  @RequiresRoles('captain')
  captain(@CurrentSubject() subject: Subject) {
    return { event: 'captain', data: { username: subject.primaryIdentifier } };
  }
}

@Module({
  imports: [
    YosaiModule.forRoot({
      realm: UsersRealm,
      passwordHashing: TEST_HASHING,
      cookie: { secure: false },
      header: { name: 'x-session' },
    }),
  ],
  controllers: [SignInController],
  providers: [UsersService, UsersRealm, LaneGateway, { provide: APP_GUARD, useClass: YosaiGuard }],
})
class AppModule {}

type Frame = { event: string; data: unknown };

/** One connected client of either library, sending a message and collecting what comes back. */
interface Client {
  send(event: string, data?: object): void;
  /** Frames received until one with this event name arrives (that one included). */
  until(event: string): Promise<Frame[]>;
  close(): void;
}

/** Frames as they arrive, and a wait for the first one of a name. */
function frameQueue() {
  const frames: Frame[] = [];
  const waiters: (() => void)[] = [];
  return {
    push(frame: Frame) {
      frames.push(frame);
      for (const wake of waiters.splice(0)) wake();
    },
    async until(event: string): Promise<Frame[]> {
      for (;;) {
        const index = frames.findIndex((f) => f.event === event);
        if (index !== -1) return frames.splice(0, index + 1);
        await new Promise<void>((wake) => waiters.push(wake));
      }
    },
  };
}

async function wsClient(url: string, headers: Record<string, string>): Promise<Client> {
  const socket = new WebSocket(url.replace('http', 'ws'), { headers });
  const queue = frameQueue();
  socket.on('message', (raw: Buffer) => queue.push(JSON.parse(raw.toString()) as Frame));
  await new Promise<void>((resolve, reject) => {
    socket.once('open', () => resolve());
    socket.once('error', reject);
  });
  return {
    send: (event, data = {}) => socket.send(JSON.stringify({ event, data })),
    until: (event) => queue.until(event),
    close: () => socket.close(),
  };
}

async function ioClient(url: string, headers: Record<string, string>): Promise<Client> {
  const socket: Socket = io(url, { transports: ['websocket'], extraHeaders: headers, reconnection: false });
  const queue = frameQueue();
  socket.onAny((event: string, data: unknown) => queue.push({ event, data }));
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', () => resolve());
    socket.once('connect_error', reject);
  });
  return {
    send: (event, data = {}) => socket.emit(event, data),
    until: (event) => queue.until(event),
    close: () => socket.close(),
  };
}

type Library = 'ws' | 'socket.io';
const CASES: [Platform, Library][] = PLATFORMS.flatMap((p) =>
  (['ws', 'socket.io'] as const).map((l): [Platform, Library] => [p, l]),
);

describe.each(CASES)('gateways behind YosaiGuard (%s, %s)', (platform, library) => {
  let app: INestApplication;
  let url: string;
  const open: Client[] = [];

  beforeAll(async () => {
    app = await bootApp(AppModule, platform, {
      listen: true,
      configure: (a) => a.useWebSocketAdapter(library === 'ws' ? new WsAdapter(a) : new IoAdapter(a)),
    });
    url = (await app.getUrl()).replace(/\[::1\]|localhost/, '127.0.0.1');
  });
  afterEach(() => {
    for (const client of open.splice(0)) client.close();
  });
  afterAll(() => app.close());

  async function connect(headers: Record<string, string> = {}): Promise<Client> {
    const client = await (library === 'ws' ? wsClient(url, headers) : ioClient(url, headers));
    open.push(client);
    return client;
  }

  async function login(username: string): Promise<string> {
    const response = await request(app.getHttpServer())
      .post('/login')
      .send({ username, password: PASSWORDS[username] })
      .expect(200);
    return sessionCookie(response.headers)!;
  }

  /** What a refused message gets back: the transport's exception, and no answer from the handler. */
  async function refusal(client: Client, event: string) {
    client.send(event);
    const frames = await client.until('exception');
    expect(frames.filter((f) => f.event === event)).toEqual([]);
    return frames.at(-1)!.data;
  }

  it('a guest may ask who it is, and is refused a message that needs a signed-in user, as unauthenticated', async () => {
    const client = await connect();
    client.send('whoami');
    expect((await client.until('whoami')).at(-1)!.data).toEqual({ username: null, authenticated: false });
    expect(await refusal(client, 'secret')).toEqual({
      status: 'error',
      code: 'UNAUTHENTICATED',
      message: 'Authentication required',
    });
  });

  it('a failed login in a handler is UNAUTHENTICATED with one message, whether or not the user exists', async () => {
    const client = await connect();
    const answers = [];
    for (const body of [
      { username: 'jackie', password: 'x' },
      { username: 'walter', password: 'x' },
    ]) {
      client.send('login', body);
      answers.push((await client.until('exception')).at(-1)!.data);
    }
    expect(answers).toEqual([
      { status: 'error', code: 'UNAUTHENTICATED', message: 'Invalid username or password' },
      { status: 'error', code: 'UNAUTHENTICATED', message: 'Invalid username or password' },
    ]);
  });

  it('a client signed in by cookie passes, and @CurrentSubject() is its Subject', async () => {
    const client = await connect({ cookie: `sid=${await login('thedude')}` });
    client.send('secret');
    expect((await client.until('secret')).at(-1)!.data).toEqual({ username: 'thedude' });
  });

  it('a client signed in by the header transport passes', async () => {
    const client = await connect({ 'x-session': await login('walter') });
    client.send('captain');
    expect((await client.until('captain')).at(-1)!.data).toEqual({ username: 'walter' });
  });

  it('a signed-in client without the role is refused, as forbidden', async () => {
    const client = await connect({ cookie: `sid=${await login('thedude')}` });
    expect(await refusal(client, 'captain')).toMatchObject({ status: 'error', code: 'FORBIDDEN' });
  });

  it('a logout over HTTP is seen by the next message on an open connection', async () => {
    const token = await login('thedude');
    const client = await connect({ cookie: `sid=${token}` });
    client.send('whoami');
    expect((await client.until('whoami')).at(-1)!.data).toEqual({ username: 'thedude', authenticated: true });
    await request(app.getHttpServer()).post('/logout').set('Cookie', `sid=${token}`).expect(204);
    client.send('whoami');
    expect((await client.until('whoami')).at(-1)!.data).toEqual({ username: null, authenticated: false });
    await refusal(client, 'secret');
  });

  it('a handshake with the session cookie from another site is refused (cross-site WebSocket hijacking)', async () => {
    const client = await connect({ cookie: `sid=${await login('thedude')}`, origin: 'https://evil.example' });
    expect(await refusal(client, 'secret')).toEqual({
      status: 'error',
      code: 'FORBIDDEN',
      message: 'Cross-site request refused',
    });
  });
});
