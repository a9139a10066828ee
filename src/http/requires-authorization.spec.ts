import { UnauthorizedException, type ExecutionContext } from '@nestjs/common';
import { ExecutionContextHost } from '@nestjs/core/helpers/execution-context-host.js';
import { Test } from '@nestjs/testing';
import { YosaiModule } from '../yosai.module.js';
import { RequiresPermissions, RequiresRoles } from './requires-authorization.decorator.js';
import { YosaiGuard } from './yosai.guard.js';

@RequiresRoles('member')
class Club {
  @RequiresPermissions('lane:read:{lane}') lane() {}
}

class Open {
  page() {}
}

function context(type: object, handler: () => void, kind = 'http'): ExecutionContext {
  const response = { getHeader: () => undefined, setHeader: () => undefined, removeHeader: () => undefined };
  const host = new ExecutionContextHost(
    [{ headers: {}, params: { lane: '1' } }, response],
    type as never,
    handler,
  );
  host.setType(kind as never);
  return host;
}

describe('YosaiGuard with role and permission rules', () => {
  let guard: YosaiGuard;
  beforeAll(async () => {
    const moduleRef = await Test.createTestingModule({ imports: [YosaiModule.forRoot({})] }).compile();
    guard = moduleRef.get(YosaiGuard);
  });

  it('decides a route without rules synchronously', () => {
    expect(guard.canActivate(context(Open, Open.prototype.page))).toBe(true);
  });

  it('refuses a guest with 401 at once, before asking any realm', () => {
    expect(() => guard.canActivate(context(Club, Club.prototype.lane))).toThrow(UnauthorizedException);
  });

  it('refuses a route with rules outside HTTP, instead of letting it through', () => {
    expect(() => guard.canActivate(context(Club, Club.prototype.lane, 'ws'))).toThrow(UnauthorizedException);
  });
});
