import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

// The published declarations are the public API: what is marked @internal must not be in them, and Session and
// Subject must not be constructible from outside (they are made by the library, with state a user cannot forge).
const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
let declarations: Map<string, string>;

beforeAll(() => {
  const config = ts.getParsedCommandLineOfConfigFile(
    join(root, 'tsconfig.build.json'),
    {},
    {
      ...ts.sys,
      onUnRecoverableConfigFileDiagnostic: (d) => {
        throw new Error(ts.flattenDiagnosticMessageText(d.messageText, '\n'));
      },
    },
  )!;
  const options = { ...config.options, emitDeclarationOnly: true, declaration: true, noEmit: false };
  declarations = new Map();
  const program = ts.createProgram(config.fileNames, options);
  program.emit(undefined, (file, text) => {
    if (file.endsWith('.d.ts'))
      declarations.set(file.slice(file.indexOf('dist/esm/') + 'dist/esm/'.length), text);
  });
}, 60_000);

function dts(file: string): string {
  const text = declarations.get(file);
  if (text === undefined) throw new Error(`no declarations for ${file}`);
  return text;
}

describe('published typings', () => {
  it.each([
    ['session/session.manager.d.ts', ['lookup(', 'resolveNow', 'updateAttributes', 'addListener', 'own(']],
    ['subject/subject.factory.d.ts', ['subjectOfRequest']],
    ['subject/subject.d.ts', ['sessionStopped', 'static create']],
    ['session/session.d.ts', ['static create']],
    ['store/session.store.d.ts', ['FAST_READ', 'fastReadOf']],
  ])('%s carries none of the internal members', (file, names) => {
    const text = dts(file);
    for (const name of names) expect(text).not.toContain(name);
  });

  it('Session and Subject have private constructors', () => {
    expect(dts('session/session.d.ts')).toMatch(/private constructor\(\);/);
    expect(dts('subject/subject.d.ts')).toMatch(/private constructor\(\);/);
  });

  it('the 0.2 API is there: startSession/replaceSession, isAuthenticated, typed getSession()', () => {
    const manager = dts('session/session.manager.d.ts');
    expect(manager).toContain('startSession(options?: StartSessionOptions): Promise<IssuedSession>;');
    expect(manager).toContain(
      'replaceSession(session: Session, identity: SessionIdentity, options?: ReplaceSessionOptions): Promise<IssuedSession>;',
    );
    expect(dts('session/session.d.ts')).toContain('get isAuthenticated(): boolean;');
    expect(dts('subject/subject.d.ts')).toContain('getSession(create?: true): Promise<Session>;');
  });
});
