import 'reflect-metadata';
import { Injectable, Module, type LoggerService } from '@nestjs/common';
import { EventEmitterModule, OnEvent } from '@nestjs/event-emitter';
import { Test, type TestingModule } from '@nestjs/testing';
import {
  CacheManagerSessionStore,
  ManualClock,
  SessionManager,
  SubjectFactory,
  YOSAI_LOGIN_FAILED,
  YOSAI_LOGIN_SUCCEEDED,
  YOSAI_SESSION_EXPIRED,
  YOSAI_SESSION_STARTED,
  YOSAI_SESSION_STOPPED,
  YosaiModule,
  type SessionStore,
  type YosaiModuleOptions,
} from '../../src/index.js';
import { CountingStore } from './counting-store.js';

export interface RecordedEvent {
  name: string;
  payload: Record<string, unknown>;
}

/** A real `@OnEvent` listener: what an app would write. Records every yosai event in order. */
@Injectable()
export class EventRecorder {
  readonly events: RecordedEvent[] = [];

  named(name: string): Record<string, unknown>[] {
    return this.events.filter((e) => e.name === name).map((e) => e.payload);
  }
  clear(): void {
    this.events.length = 0;
  }

  @OnEvent(YOSAI_SESSION_STARTED)
  onStarted(payload: Record<string, unknown>) {
    this.events.push({ name: YOSAI_SESSION_STARTED, payload });
  }
  @OnEvent(YOSAI_SESSION_STOPPED)
  onStopped(payload: Record<string, unknown>) {
    this.events.push({ name: YOSAI_SESSION_STOPPED, payload });
  }
  @OnEvent(YOSAI_SESSION_EXPIRED)
  onExpired(payload: Record<string, unknown>) {
    this.events.push({ name: YOSAI_SESSION_EXPIRED, payload });
  }
  @OnEvent(YOSAI_LOGIN_SUCCEEDED)
  onLoginSucceeded(payload: Record<string, unknown>) {
    this.events.push({ name: YOSAI_LOGIN_SUCCEEDED, payload });
  }
  @OnEvent(YOSAI_LOGIN_FAILED)
  onLoginFailed(payload: Record<string, unknown>) {
    this.events.push({ name: YOSAI_LOGIN_FAILED, payload });
  }
}

export { CapturingLogger } from './capturing-logger.js';

export interface ManagerHarnessOptions {
  yosai?: YosaiModuleOptions;
  /** The store to wrap with a CountingStore; a fresh in-memory store by default. */
  store?: SessionStore;
  /** Pass `false` to make the manager read an in-memory store through its asynchronous `get`. */
  syncReads?: boolean;
  /** Leave out EventEmitterModule. */
  withoutEvents?: boolean;
  logger?: LoggerService;
}

export interface ManagerHarness {
  moduleRef: TestingModule;
  manager: SessionManager;
  subjects: SubjectFactory;
  clock: ManualClock;
  store: CountingStore;
  events: EventRecorder;
  close(): Promise<void>;
}

/**
 * A SessionManager built through the real module (options validated by YosaiModule.forRoot), with a
 * ManualClock, a counting store and a real `@OnEvent` listener.
 */
export async function createManagerHarness(options: ManagerHarnessOptions = {}): Promise<ManagerHarness> {
  const clock =
    options.yosai?.clock instanceof ManualClock ? options.yosai.clock : new ManualClock(Date.UTC(2026, 0, 1));
  const store = new CountingStore(
    options.store ?? CacheManagerSessionStore.inMemory({ sweepIntervalMs: 0 }),
    {
      sync: options.syncReads,
    },
  );

  @Module({
    imports: [
      ...(options.withoutEvents ? [] : [EventEmitterModule.forRoot()]),
      YosaiModule.forRoot({ cookie: { secure: false }, ...options.yosai, clock, store }),
    ],
    providers: [EventRecorder],
  })
  class HarnessModule {}

  const builder = Test.createTestingModule({ imports: [HarnessModule] });
  if (options.logger) builder.setLogger(options.logger);
  const moduleRef = await builder.compile();
  await moduleRef.init();
  return {
    moduleRef,
    manager: moduleRef.get(SessionManager),
    subjects: moduleRef.get(SubjectFactory),
    clock,
    store,
    events: moduleRef.get(EventRecorder),
    close: async () => {
      await moduleRef.close();
      await store.close();
    },
  };
}
