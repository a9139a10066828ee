// The TypeScript parser, except that every import and re-export is marked as a value one.
// import-x parses the modules it walks for no-cycle with the parser named in its 'import-x/parsers'
// setting, and it skips `import type` edges; through this parser those edges are walked too, because a
// cycle made of types is still two modules that cannot be understood apart.
// It is CommonJS because import-x loads that setting's parser with require().
const { parser } = require('typescript-eslint');

/** Marks the import or re-export declarations of a module body as value ones, in place. */
function typeEdgesAsValues(body) {
  for (const node of body) {
    if (node.type === 'ImportDeclaration') {
      node.importKind = 'value';
      for (const s of node.specifiers) if ('importKind' in s) s.importKind = 'value';
    } else if (
      (node.type === 'ExportNamedDeclaration' || node.type === 'ExportAllDeclaration') &&
      node.source
    ) {
      node.exportKind = 'value';
      for (const s of node.specifiers ?? []) if ('exportKind' in s) s.exportKind = 'value';
    }
  }
}

module.exports = {
  meta: { name: 'type-imports-as-values' },
  typeEdgesAsValues,
  parseForESLint(code, options) {
    const result = parser.parseForESLint(code, options);
    typeEdgesAsValues(result.ast.body);
    return result;
  },
};
