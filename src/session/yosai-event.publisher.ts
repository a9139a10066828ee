import { Injectable, Logger, type OnModuleInit } from '@nestjs/common';
import { ModuleRef } from '@nestjs/core';

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

  constructor(private readonly moduleRef: ModuleRef) {}

  async onModuleInit(): Promise<void> {
    try {
      // Optional peer: resolved at runtime so apps without it do not need it installed.
      const { EventEmitter2 } = await import('@nestjs/event-emitter');
      const emitter: unknown = this.moduleRef.get(EventEmitter2, { strict: false });
      this.emitter = emitter as EmitterLike;
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
