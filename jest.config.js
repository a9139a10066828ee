// Jest 30 in ESM mode (run through `npm test`, which passes --experimental-vm-modules).
// Two projects: `unit` runs the specs beside the sources (src/**/*.spec.ts) and needs no Redis or HTTP
// server; `e2e` runs test/** (real Redis, real HTTP, the README check). `npm test` runs both in one Jest
// invocation (one --json report with the totals); `npm run test:unit` / `test:e2e` run one through
// jest.unit.config.js / jest.e2e.config.js, which take these same project settings.
const swcTs = {
  jsc: {
    parser: { syntax: 'typescript', decorators: true },
    transform: { legacyDecorator: true, decoratorMetadata: true },
    target: 'es2022',
  },
  module: { type: 'es6' },
};

/** What both projects share. */
const common = {
  rootDir: import.meta.dirname,
  testEnvironment: 'node',
  extensionsToTreatAsEsm: ['.ts'],
  // NodeNext sources import './x.js'; Jest resolves the .ts file.
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  transform: {
    '^.+\\.ts$': ['@swc/jest', swcTs],
    // cookie@2 (required by fastify's light-my-request) and content-disposition@2 (by @fastify/static, which
    // mercurius requires) are ESM-only; Jest on Node < 24.9 cannot require() them.
    '/node_modules/.+\\.js$': ['@swc/jest', { jsc: { target: 'es2022' }, module: { type: 'commonjs' } }],
  },
  transformIgnorePatterns: ['/node_modules/(?!(.*/)?(cookie|content-disposition)/)'],
};

export const unit = {
  ...common,
  displayName: 'unit',
  roots: ['<rootDir>/src'],
  testRegex: '/src/.*\\.spec\\.ts$',
};

export const e2e = {
  ...common,
  displayName: 'e2e',
  roots: ['<rootDir>/test'],
  testRegex: '/test/.*\\.(spec|e2e-spec)\\.ts$',
};

/** Options Jest reads from the top-level config only, never from a project (testTimeout among them). */
export const globals = { testTimeout: 30000 };

export default { ...globals, projects: [unit, e2e] };
