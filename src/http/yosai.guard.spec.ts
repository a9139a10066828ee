import { ForbiddenException, UnauthorizedException, type ExecutionContext } from '@nestjs/common';
import { ExecutionContextHost } from '@nestjs/core/helpers/execution-context-host.js';
import { Test } from '@nestjs/testing';
import { RequiresAuthentication, RequiresGuest, RequiresUser } from './requires.decorator.js';
import { YosaiGuard } from './yosai.guard.js';
import { YosaiModule } from '../yosai.module.js';

class Gateway {
  @RequiresAuthentication() secret() {}
  @RequiresUser() cart() {}
  @RequiresGuest() signUp() {}
  open() {}
}

function wsContext(handler: keyof Gateway): ExecutionContext {
  const context = new ExecutionContextHost(
    [{ handshake: {} }, { data: 1 }],
    Gateway,
    Gateway.prototype[handler],
  );
  context.setType('ws');
  return context;
}

describe('YosaiGuard outside HTTP', () => {
  let guard: YosaiGuard;
  beforeAll(async () => {
    const moduleRef = await Test.createTestingModule({ imports: [YosaiModule.forRoot({})] }).compile();
    guard = moduleRef.get(YosaiGuard);
  });

  // A global guard also runs for gateways and microservice handlers, where it finds no HTTP request.
  it('refuses @Requires…() routes it cannot check, instead of letting them through', () => {
    expect(() => guard.canActivate(wsContext('secret'))).toThrow(UnauthorizedException);
    expect(() => guard.canActivate(wsContext('cart'))).toThrow(UnauthorizedException);
    expect(() => guard.canActivate(wsContext('signUp'))).toThrow(ForbiddenException);
  });

  it('lets routes without a requirement through', () => {
    expect(guard.canActivate(wsContext('open'))).toBe(true);
  });
});
