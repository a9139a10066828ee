// import-x's no-cycle, with type-only imports counted as edges of the import graph.
// import-x leaves `import type` out on purpose (it has no runtime effect). Here a type cycle is still a
// design cycle, so the rule sees every import as a value one: the import being checked through a copy of
// its node (the AST other rules see is left alone), and the modules it walks through the parser below.
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { createTypeScriptImportResolver } from 'eslint-import-resolver-typescript';
import importX from 'eslint-plugin-import-x';

const require = createRequire(import.meta.url);
const parserPath = require.resolve('./type-imports-as-values.cjs');

const base = importX.rules['no-cycle'];

/** A copy of an import declaration in which no import is type-only. */
function asValueImport(node) {
  if (node?.type !== 'ImportDeclaration') return node;
  return {
    ...node,
    importKind: 'value',
    specifiers: node.specifiers.map((s) => ('importKind' in s ? { ...s, importKind: 'value' } : s)),
  };
}

export const noImportCycle = {
  meta: {
    ...base.meta,
    docs: { description: 'import-x/no-cycle, with type-only imports counted' },
  },
  defaultOptions: base.defaultOptions,
  create(context) {
    const listeners = base.create(context);
    return Object.fromEntries(
      Object.entries(listeners).map(([selector, listener]) => [
        selector,
        (node) => listener(asValueImport(node)),
      ]),
    );
  },
};

/**
 * Settings that make import-x walk the TypeScript modules with type edges included. The TypeScript
 * resolver maps the NodeNext './x.js' specifiers to the ./x.ts sources.
 */
export const importCycleSettings = {
  'import-x/extensions': ['.ts'],
  'import-x/parsers': { [parserPath]: ['.ts'] },
  'import-x/resolver-next': [
    createTypeScriptImportResolver({
      project: fileURLToPath(new URL('../../tsconfig.json', import.meta.url)),
    }),
  ],
};
