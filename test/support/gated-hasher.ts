import { PasswordHasher, type PasswordHasherOptions, type ScryptParameters } from '../../src/index.js';
import { TEST_HASHING } from './test-app.js';

/**
 * A PasswordHasher whose derivations can be held at a gate, so tests can see how many run at once and in what order,
 * without timing anything. Open at first (the module makes its dummy hash at bootstrap); `close()` it to hold.
 */
export class GatedHasher extends PasswordHasher {
  /** Derivations running (past the gate or waiting at it) now, and the most at once so far. */
  active = 0;
  maxActive = 0;
  /** Derivations started so far, and the label of each (see `label`). */
  readonly started: string[] = [];
  /** Tells what a derivation is for, from its password (the dummy's is random hex). */
  label: (password: string) => string = (password) => password;
  private held = false;
  private readonly gate: (() => void)[] = [];

  constructor(options: PasswordHasherOptions = TEST_HASHING) {
    super(options);
  }

  protected async derive(password: string, salt: Buffer, keylen: number, parameters: ScryptParameters) {
    this.active++;
    this.maxActive = Math.max(this.maxActive, this.active);
    this.started.push(this.label(password));
    try {
      if (this.held) await new Promise<void>((resolve) => this.gate.push(resolve));
      return await super.derive(password, salt, keylen, parameters);
    } finally {
      this.active--;
    }
  }

  /** Holds every derivation that starts from now on at the gate. */
  close(): void {
    this.held = true;
  }

  /** Lets the derivations at the gate go on, and the later ones through. */
  open(): void {
    this.held = false;
    for (const pass of this.gate.splice(0)) pass();
  }

  /** Lets the first derivation at the gate go on. */
  passOne(): void {
    this.gate.shift()?.();
  }

  /** Derivations waiting at the gate now. */
  get waiting(): number {
    return this.gate.length;
  }
}

/** Resolves once `condition` holds, checking after each turn of the event loop (no clock involved). */
export async function until(condition: () => boolean, turns = 10_000): Promise<void> {
  for (let i = 0; i < turns; i++) {
    if (condition()) return;
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
  throw new Error('until(): the condition never held');
}
