import { Injectable, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { HttpAdapterHost, ModulesContainer } from '@nestjs/core';
import type { HttpRequestLike } from './token-transport.js';
import { recordUpgrade } from './execution-contexts.js';
import { appUsesCls, loadOptionalPeers } from './optional-peers.js';

interface UpgradeSource {
  prependListener(event: 'upgrade', listener: (request: HttpRequestLike, socket: object) => void): unknown;
  off(event: 'upgrade', listener: (request: HttpRequestLike, socket: object) => void): unknown;
}

/**
 * Prepares the guard for routes that are not plain HTTP, at bootstrap: loads the optional peers the app has
 * (`@nestjs/websockets`, `graphql`, and `nestjs-cls` when the app uses it), and notes the upgrade request of every
 * WebSocket opened on the app's HTTP server, which `@nestjs/platform-ws` does not keep on the client (socket.io
 * does).
 */
@Injectable()
export class ContextBridge implements OnModuleInit, OnApplicationShutdown {
  private server: UpgradeSource | null = null;
  private readonly onUpgrade = (request: HttpRequestLike, socket: object) => recordUpgrade(request, socket);

  constructor(
    private readonly adapterHost: HttpAdapterHost,
    private readonly modules: ModulesContainer,
  ) {}

  async onModuleInit(): Promise<void> {
    const moduleNames = [...this.modules.values()].map((module) => module.metatype?.name);
    await loadOptionalPeers({ cls: appUsesCls(moduleNames) });
    // Before the WebSocket adapter's own listener, which answers the upgrade: ours only notes the request.
    const server = this.adapterHost.httpAdapter?.getHttpServer() as Partial<UpgradeSource> | undefined;
    if (typeof server?.prependListener !== 'function' || typeof server.off !== 'function') return;
    this.server = server as UpgradeSource;
    this.server.prependListener('upgrade', this.onUpgrade);
  }

  onApplicationShutdown(): void {
    this.server?.off('upgrade', this.onUpgrade);
    this.server = null;
  }
}
