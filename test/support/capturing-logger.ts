import type { LoggerService } from '@nestjs/common';

/** A Nest LoggerService that keeps every line at every level: to check what is logged, and that no token is. */
export class CapturingLogger implements LoggerService {
  readonly lines: { level: string; text: string }[] = [];
  private push(level: string, message: unknown, params: unknown[]) {
    const parts = [message, ...params].map((p) =>
      p instanceof Error ? `${p.message}\n${p.stack ?? ''}` : typeof p === 'string' ? p : JSON.stringify(p),
    );
    this.lines.push({ level, text: parts.join(' ') });
  }
  log(message: unknown, ...params: unknown[]) {
    this.push('log', message, params);
  }
  error(message: unknown, ...params: unknown[]) {
    this.push('error', message, params);
  }
  warn(message: unknown, ...params: unknown[]) {
    this.push('warn', message, params);
  }
  debug(message: unknown, ...params: unknown[]) {
    this.push('debug', message, params);
  }
  verbose(message: unknown, ...params: unknown[]) {
    this.push('verbose', message, params);
  }
  fatal(message: unknown, ...params: unknown[]) {
    this.push('fatal', message, params);
  }
  /** The lines of one level. */
  at(level: string) {
    return this.lines.filter((l) => l.level === level);
  }
  /** Everything logged, one line each. */
  text(): string {
    return this.lines.map((l) => l.text).join('\n');
  }
  clear() {
    this.lines.length = 0;
  }
}
