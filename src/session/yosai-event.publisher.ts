import { Inject, Injectable, Logger, type OnModuleInit } from '@nestjs/common';
import { ModuleRef } from '@nestjs/core';
import { YOSAI_EVENT_EMITTER_LOADER } from '../yosai.internal-constants.js';

/** Loads `@nestjs/event-emitter`; rejects when it cannot. */
export type EventEmitterLoader = () => Promise<{ EventEmitter2: unknown }>;

/** The production loader: the optional peer, resolved at run time so that apps without it need not install it. */
export const loadEventEmitter: EventEmitterLoader = () => import('@nestjs/event-emitter');

const PACKAGE = '@nestjs/event-emitter';

interface EmitterLike {
  emit(event: string, ...values: unknown[]): boolean;
  emitAsync?(event: string, ...values: unknown[]): Promise<unknown[]>;
}

/**
 * Sends events to `@nestjs/event-emitter` when the app has it, and does nothing otherwise.
 * Listener errors (sync or async) are logged and kept away from the request that caused the event.
 */
@Injectable()
export class YosaiEventPublisher implements OnModuleInit {
  private readonly logger = new Logger('YosaiEvents');
  private emitter: EmitterLike | null = null;

  constructor(
    private readonly moduleRef: ModuleRef,
    @Inject(YOSAI_EVENT_EMITTER_LOADER) private readonly load: EventEmitterLoader,
  ) {}

  async onModuleInit(): Promise<void> {
    let EventEmitter2: unknown;
    try {
      ({ EventEmitter2 } = await this.load());
    } catch (error) {
      // Not installed: events are off by the app's choice. Installed but not loadable (an ESM-only major under a
      // CommonJS test runner, a broken install): the app expects events and would silently get none.
      if (!isNotInstalled(error)) {
        this.logger.warn(
          `${PACKAGE} is installed but could not be loaded, so no session events are sent: ${reason(error)}`,
        );
      }
      return;
    }
    try {
      // Installed, but without EventEmitterModule.forRoot() in the app there is no emitter: events are off.
      this.emitter = this.moduleRef.get(EventEmitter2 as new () => EmitterLike, { strict: false });
    } catch {
      this.emitter = null;
    }
  }

  /** True when events reach an emitter. */
  get enabled(): boolean {
    return this.emitter !== null;
  }

  publish(name: string, payload: object): void {
    const emitter = this.emitter;
    if (!emitter) return;
    try {
      const pending = emitter.emitAsync ? emitter.emitAsync(name, payload) : emitter.emit(name, payload);
      if (pending instanceof Promise) pending.catch((error: unknown) => this.listenerFailed(name, error));
    } catch (error) {
      this.listenerFailed(name, error);
    }
  }

  private listenerFailed(name: string, error: unknown) {
    this.logger.error(
      `A listener of ${name} failed: ${error instanceof Error ? error.message : String(error)}`,
    );
  }
}

/** Whether the error says that the package itself is not installed (not one of its dependencies, nor a failure inside it). */
function isNotInstalled(error: unknown): boolean {
  const { code, message } = (error ?? {}) as { code?: unknown; message?: unknown };
  if (code !== 'ERR_MODULE_NOT_FOUND' && code !== 'MODULE_NOT_FOUND') return false;
  // The missing package is named in quotes ("Cannot find package '@nestjs/event-emitter' imported from …"); a
  // dependency of the package missing names that dependency instead. Read by shape: the error may come from
  // another realm (a test runner's module system), where `instanceof Error` is false.
  return typeof message === 'string' && message.includes(`'${PACKAGE}'`);
}

function reason(error: unknown): string {
  const { code, message } = (error ?? {}) as { code?: unknown; message?: unknown };
  const text = typeof message === 'string' ? message : String(error);
  return typeof code === 'string' ? `${text} (${code})` : text;
}
