// Builds the dual package: ESM in dist/esm, CommonJS in dist/cjs (marked by its own package.json).
import { execFileSync } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';

const tsc = ['node_modules/typescript/bin/tsc'];
rmSync('dist', { recursive: true, force: true });
execFileSync(process.execPath, [...tsc, '-p', 'tsconfig.build.json'], { stdio: 'inherit' });
execFileSync(process.execPath, [...tsc, '-p', 'tsconfig.build.cjs.json'], { stdio: 'inherit' });
writeFileSync('dist/cjs/package.json', '{ "type": "commonjs" }\n');
