import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import js from '@eslint/js';
import { ESLint } from 'eslint';
import tseslint from 'typescript-eslint';
import ts from 'typescript';

// Every ```ts block in the README is type-checked against the real sources, so the docs cannot rot.
// A block whose fence names a file (```ts my-store.ts) is written under that name, so that a later block
// can import it (`./my-store.js`).
const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const readme = readFileSync(join(root, 'README.md'), 'utf8');
const blocks = [...readme.matchAll(/```ts(?: ([\w-]+\.ts))?\n([\s\S]*?)```/g)].map((m, i) => ({
  index: i + 1,
  line: readme.slice(0, m.index).split('\n').length + 1,
  name: m[1] ?? `block-${i + 1}.ts`,
  code: m[2],
}));
const dir = join(root, '.artifacts', 'readme');

let diagnostics: Map<string, string[]>;
let lintMessages: Map<string, string[]>;

beforeAll(async () => {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const files = blocks.map((b) => {
    const file = join(dir, b.name);
    writeFileSync(file, b.code);
    return file;
  });
  const options: ts.CompilerOptions = {
    target: ts.ScriptTarget.ES2023,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    experimentalDecorators: true,
    emitDecoratorMetadata: true,
    strict: true,
    esModuleInterop: true,
    skipLibCheck: true,
    noEmit: true,
    types: ['node'],
    paths: {
      'nestjs-yosai': [join(root, 'src', 'index.ts')],
      'nestjs-yosai/testing': [join(root, 'src', 'testing', 'index.ts')],
    },
  };
  const program = ts.createProgram(files, options);
  diagnostics = new Map(files.map((f) => [f, []]));
  for (const d of ts.getPreEmitDiagnostics(program)) {
    const file = d.file?.fileName;
    if (!file || !diagnostics.has(file)) continue;
    const { line } = d.file!.getLineAndCharacterOfPosition(d.start ?? 0);
    diagnostics.get(file)!.push(`line ${line + 1}: ${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`);
  }

  // Linted with the rules `nest new` (Nest 11) ships: ESLint's recommended set and typescript-eslint's
  // recommendedTypeChecked, with its three overrides (no-floating-promises and no-unsafe-argument as warnings,
  // which fail here too: a user sees them). Its prettier rule is left out: formatting is the app's own choice.
  const eslint = new ESLint({
    cwd: dir,
    overrideConfigFile: true,
    overrideConfig: tseslint.config(js.configs.recommended, ...tseslint.configs.recommendedTypeChecked, {
      languageOptions: {
        // The program compiled above, so the blocks are type-checked once.
        parserOptions: { projectService: false, programs: [program] },
      },
      rules: {
        '@typescript-eslint/no-explicit-any': 'off',
        '@typescript-eslint/no-floating-promises': 'warn',
        '@typescript-eslint/no-unsafe-argument': 'warn',
      },
    }) as ESLint.Options['overrideConfig'],
  });
  lintMessages = new Map(files.map((f) => [f, []]));
  for (const result of await eslint.lintFiles(files)) {
    lintMessages.set(
      result.filePath,
      result.messages.map((m) => `line ${m.line}: ${m.message} (${m.ruleId ?? 'parse'})`),
    );
  }
}, 120_000);

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('README code blocks', () => {
  it('has TypeScript blocks to check', () => {
    expect(blocks.length).toBeGreaterThanOrEqual(8);
  });

  it('names each file once', () => {
    expect(new Set(blocks.map((b) => b.name)).size).toBe(blocks.length);
  });

  it.each(blocks.map((b) => [b.index, b.line, b.name] as const))(
    'block %i (README line %i) compiles',
    (_index, _line, name) => {
      expect(diagnostics.get(join(dir, name))).toEqual([]);
    },
  );

  it.each(blocks.map((b) => [b.index, b.line, b.name] as const))(
    'block %i (README line %i) passes the lint rules nest new ships',
    (_index, _line, name) => {
      expect(lintMessages.get(join(dir, name))).toEqual([]);
    },
  );
});

// The install lines a user copies are the ones the fixture apps run (scripts/fixtures/run.sh runs each line of a
// fixture's install.txt, with the packed tarball for `nestjs-yosai`). Compared without comments and extra spaces.
const command = (line: string) => line.replace(/#.*/, '').trim().replace(/\s+/g, ' ');
const readmeCommands = new Set(
  [...readme.matchAll(/```bash\n([\s\S]*?)```/g)]
    .flatMap((m) => m[1].split('\n').map(command))
    .filter(Boolean),
);
const fixtures = readdirSync(join(root, 'fixtures'), { withFileTypes: true })
  .filter((d) => d.isDirectory() && existsSync(join(root, 'fixtures', d.name, 'install.txt')))
  .map((d) => d.name);

describe('README install lines', () => {
  it('has fixtures with install lines', () => {
    expect(fixtures).toEqual(expect.arrayContaining(['nest11-cjs', 'nest12-esm']));
  });

  it.each(fixtures)('the install lines of fixtures/%s are in the README, as written', (name) => {
    const lines = readFileSync(join(root, 'fixtures', name, 'install.txt'), 'utf8')
      .split('\n')
      .map(command);
    const installs = lines.filter(Boolean);
    expect(installs.length).toBeGreaterThan(0);
    expect(installs.filter((line) => !readmeCommands.has(line))).toEqual([]);
    expect(installs.every((line) => line.startsWith('npm i '))).toBe(true);
  });
});
