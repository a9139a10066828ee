import { Inject, Module, type DynamicModule, type OnApplicationShutdown } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { EventEmitterModule } from '@nestjs/event-emitter';
import { YosaiGuard, YosaiModule, type YosaiModuleOptions } from 'nestjs-yosai';
import { ApiController } from './api.controller.js';
import { EventLogService } from './event-log.service.js';
import { PageController, SAMPLE_STORE_KIND } from './page.controller.js';
import { SessionGateway } from './session.gateway.js';
import { SessionsController } from './sessions.controller.js';

/** Injection token of what must run when the app shuts down (closing the Redis connection). */
const SAMPLE_SHUTDOWN = 'SAMPLE_SHUTDOWN';

/** Runs the sample's own clean-up when Nest shuts down. */
class SampleShutdown implements OnApplicationShutdown {
  constructor(@Inject(SAMPLE_SHUTDOWN) private readonly tasks: (() => Promise<unknown>)[]) {}

  async onApplicationShutdown(): Promise<void> {
    for (const task of this.tasks) await task();
  }
}

export interface SampleModuleOptions {
  /** Options for `YosaiModule.forRoot()`: realm, store, timeouts, cookie. */
  readonly yosai: YosaiModuleOptions;
  /** `memory` or `redis`, shown on the page. */
  readonly storeKind: string;
  /** Called at shutdown, e.g. to disconnect Redis. */
  readonly onShutdown?: () => Promise<unknown>;
}

/**
 * The sample's root module: events (wildcards on, so `@OnEvent('yosai.**')` sees every yosai event),
 * `YosaiModule`, `YosaiGuard` as a global guard, the page, the JSON API and a WebSocket gateway (`/ws`).
 */
@Module({})
export class SampleModule {
  static register(options: SampleModuleOptions): DynamicModule {
    return {
      module: SampleModule,
      imports: [
        EventEmitterModule.forRoot({ wildcard: true, delimiter: '.' }),
        YosaiModule.forRoot(options.yosai),
      ],
      controllers: [PageController, ApiController, SessionsController],
      providers: [
        EventLogService,
        SessionGateway,
        { provide: APP_GUARD, useClass: YosaiGuard },
        { provide: SAMPLE_STORE_KIND, useValue: options.storeKind },
        { provide: SAMPLE_SHUTDOWN, useValue: options.onShutdown ? [options.onShutdown] : [] },
        SampleShutdown,
      ],
    };
  }
}
