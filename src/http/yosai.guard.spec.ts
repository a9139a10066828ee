import { ForbiddenException, UnauthorizedException, type ExecutionContext } from '@nestjs/common';
import { ExecutionContextHost } from '@nestjs/core/helpers/execution-context-host.js';
import { Test } from '@nestjs/testing';
import { RequiresAuthentication, RequiresGuest, RequiresUser } from './requires.decorator.js';
import { YosaiGuard } from './yosai.guard.js';
import { YosaiModule } from '../yosai.module.js';
import { SessionManager } from '../session/session.manager.js';
import { tokenOf } from '../session/session.js';
import { CacheManagerSessionStore } from '../store/cache-manager-session.store.js';
import { SessionStore } from '../store/session.store.js';
import { subjectOf } from './subject-of.js';

class Gateway {
  @RequiresAuthentication() secret() {}
  @RequiresUser() cart() {}
  @RequiresGuest() signUp() {}
  open() {}
}

function rpcContext(handler: keyof Gateway): ExecutionContext {
  const context = new ExecutionContextHost([{ data: 1 }, {}], Gateway, Gateway.prototype[handler]);
  context.setType('rpc');
  return context;
}

/** A gateway message from a client whose handshake is unknown (no socket.io request, no recorded upgrade). */
function wsContext(handler: keyof Gateway): ExecutionContext {
  const context = new ExecutionContextHost([{}, { data: 1 }], Gateway, Gateway.prototype[handler]);
  context.setType('ws');
  return context;
}

describe('YosaiGuard outside HTTP', () => {
  let guard: YosaiGuard;
  beforeAll(async () => {
    const moduleRef = await Test.createTestingModule({ imports: [YosaiModule.forRoot({})] }).compile();
    guard = moduleRef.get(YosaiGuard);
  });

  // A global guard also runs for microservice handlers, where it finds no request.
  it('refuses @Requires…() routes it cannot check, instead of letting them through', () => {
    expect(() => guard.canActivate(rpcContext('secret'))).toThrow(UnauthorizedException);
    expect(() => guard.canActivate(rpcContext('cart'))).toThrow(UnauthorizedException);
    expect(() => guard.canActivate(rpcContext('signUp'))).toThrow(ForbiddenException);
  });

  it('lets routes without a requirement through', () => {
    expect(guard.canActivate(rpcContext('open'))).toBe(true);
  });

  it('treats a gateway client whose handshake it cannot see as a guest', () => {
    expect(() => guard.canActivate(wsContext('secret'))).toThrow(UnauthorizedException);
    expect(() => guard.canActivate(wsContext('cart'))).toThrow(UnauthorizedException);
    expect(guard.canActivate(wsContext('signUp'))).toBe(true);
    expect(guard.canActivate(wsContext('open'))).toBe(true);
  });
});

class Pages {
  @RequiresAuthentication() secret() {}
}

function httpContext(cookie: string): ExecutionContext {
  const response = { getHeader: () => undefined, setHeader: () => undefined, removeHeader: () => undefined };
  const context = new ExecutionContextHost(
    [{ headers: { cookie } }, response],
    Pages,
    Pages.prototype.secret,
  );
  context.setType('http');
  return context;
}

/** A store of our own that reads the in-memory store through the async `get` only. */
class AsyncOnlyStore extends SessionStore {
  readonly inner = CacheManagerSessionStore.inMemory({ sweepIntervalMs: 0 });
  get(id: string) {
    return this.inner.get(id);
  }
  set(id: string, value: string, ttlMs: number) {
    return this.inner.set(id, value, ttlMs);
  }
  compareAndSet(id: string, expected: string, value: string, ttlMs: number) {
    return this.inner.compareAndSet(id, expected, value, ttlMs);
  }
  delete(id: string) {
    return this.inner.delete(id);
  }
}

describe('YosaiGuard over HTTP', () => {
  async function guardWith(store: SessionStore) {
    const moduleRef = await Test.createTestingModule({
      imports: [YosaiModule.forRoot({ store, cookie: { secure: false } })],
    }).compile();
    const session = await moduleRef
      .get(SessionManager)
      .start({ identifiers: ['thedude'], authenticated: true });
    return { guard: moduleRef.get(YosaiGuard), cookie: `sid=${tokenOf(session)}`, moduleRef };
  }

  // Nest awaits a promise from a guard (two more promises per request); a boolean it takes as it is.
  it('admits an authenticated request on the in-memory store without a promise', async () => {
    const { guard, cookie, moduleRef } = await guardWith(
      CacheManagerSessionStore.inMemory({ sweepIntervalMs: 0 }),
    );
    const context = httpContext(cookie);
    expect(guard.canActivate(context)).toBe(true);
    expect(subjectOf(context.getArgByIndex<object>(0))?.primaryIdentifier).toBe('thedude');
    expect(() => guard.canActivate(httpContext('sid=' + 'a'.repeat(43)))).toThrow(UnauthorizedException);
    await moduleRef.close();
  });

  it('answers with a promise when the store reads asynchronously', async () => {
    const { guard, cookie, moduleRef } = await guardWith(new AsyncOnlyStore());
    const answer = guard.canActivate(httpContext(cookie));
    expect(answer).toBeInstanceOf(Promise);
    await expect(answer).resolves.toBe(true);
    await expect(guard.canActivate(httpContext('sid=' + 'a'.repeat(43)))).rejects.toBeInstanceOf(
      UnauthorizedException,
    );
    await moduleRef.close();
  });
});
