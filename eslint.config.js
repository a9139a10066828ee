import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import { importCycleSettings, noImportCycle } from './scripts/lint/no-import-cycle.js';

export default tseslint.config(
  {
    ignores: [
      'dist/**',
      'node_modules/**',
      'coverage/**',
      'sample-app/dist/**',
      '.artifacts/**',
      'bench/results/**',
      // Fixture apps lint themselves with the config their `nest new` ships (scripts/fixtures/run.sh).
      'fixtures/**',
    ],
  },
  js.configs.recommended,
  {
    files: ['**/*.ts'],
    extends: [...tseslint.configs.recommendedTypeChecked],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      'no-console': 'error',
      '@typescript-eslint/no-extraneous-class': 'off',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
      '@typescript-eslint/unbound-method': 'off',
      '@typescript-eslint/require-await': 'off',
    },
  },
  {
    // No import cycle in the library, type-only imports included (see scripts/lint/no-import-cycle.js).
    files: ['src/**/*.ts'],
    plugins: { yosai: { rules: { 'no-import-cycle': noImportCycle } } },
    settings: importCycleSettings,
    rules: { 'yosai/no-import-cycle': 'error' },
  },
  {
    // The sample imports the package by name, which resolves to dist/ only after a build; lint it against
    // src/ instead so `eslint .` works on a clean clone.
    files: ['sample-app/src/**/*.ts'],
    languageOptions: {
      parserOptions: {
        projectService: false,
        project: ['./sample-app/tsconfig.eslint.json'],
        tsconfigRootDir: import.meta.dirname,
      },
    },
  },
  {
    files: ['**/*.spec.ts', '**/*.e2e-spec.ts', 'test/**/*.ts'],
    rules: { '@typescript-eslint/no-non-null-assertion': 'off' },
  },
  {
    files: ['**/*.{js,mjs,cjs}'],
    languageOptions: {
      globals: {
        process: 'readonly',
        console: 'readonly',
        setTimeout: 'readonly',
        clearTimeout: 'readonly',
        URL: 'readonly',
        Buffer: 'readonly',
        fetch: 'readonly',
        setInterval: 'readonly',
        clearInterval: 'readonly',
        AbortController: 'readonly',
        require: 'readonly',
        module: 'writable',
        __dirname: 'readonly',
        globalThis: 'readonly',
        document: 'readonly',
        window: 'readonly',
      },
    },
  },
);
