import { InvalidPermissionError } from '../errors/yosai.errors.js';
import { WildcardPermission } from './wildcard-permission.js';

const p = (text: string, caseSensitive = false) => new WildcardPermission(text, { caseSensitive });

/**
 * Shiro's published wildcard semantics ("Understanding Permissions in Apache Shiro"), as
 * [granted, checked, implied]. Cases written here from those rules, with the doc's printer examples.
 */
const SHIRO_TABLE: [string, string, boolean][] = [
  // Simple usage: one part, a name.
  ['queryPrinter', 'queryPrinter', true],
  ['queryPrinter', 'printPrinter', false],
  ['*', 'queryPrinter', true],
  ['*', 'printer:query:lp7200', true],
  // Multiple parts: domain and action.
  ['printer:query', 'printer:query', true],
  ['printer:query', 'printer:print', false],
  ['printer:print', 'printer:query', false],
  // Multiple values in one part: each value is allowed, and together.
  ['printer:print,query', 'printer:print', true],
  ['printer:print,query', 'printer:query', true],
  ['printer:print,query', 'printer:query,print', true],
  ['printer:print,query', 'printer:manage', false],
  ['printer:print', 'printer:print,query', false],
  // All values: `*` in the granted permission.
  ['printer:*', 'printer:query', true],
  ['printer:*', 'printer:print,query,manage', true],
  ['*:query', 'printer:query', true],
  ['*:query', 'scanner:query', true],
  ['*:query', 'printer:print', false],
  // `*` in the checked permission is a value, not a wildcard: a narrow grant does not imply it.
  ['printer:query', 'printer:*', false],
  ['printer:print,query', 'printer:*', false],
  ['printer:*', 'printer:*', true],
  // Instance-level access control: a third part.
  ['printer:query:lp7200', 'printer:query:lp7200', true],
  ['printer:query:lp7200', 'printer:query:epsoncolor', false],
  ['printer:print:*', 'printer:print:lp7200', true],
  ['printer:*:*', 'printer:print:lp7200', true],
  ['printer:*:lp7200', 'printer:query:lp7200', true],
  ['printer:*:lp7200', 'printer:query:epsoncolor', false],
  ['printer:query,print:lp7200', 'printer:print:lp7200', true],
  ['printer:query,print:lp7200', 'printer:manage:lp7200', false],
  // Missing trailing parts imply all: `printer:print` is `printer:print:*`, `printer` is `printer:*:*`.
  ['printer:print', 'printer:print:lp7200', true],
  ['printer', 'printer:manage:lp7200', true],
  ['printer', 'printer:query', true],
  ['printer:print:*', 'printer:print', true],
  ['printer:*:*', 'printer', true],
  ['printer:print:lp7200', 'printer:print', false],
  ['printer:print:lp7200', 'printer', false],
  // …only at the end: `printer:lp7200` is not `printer:*:lp7200`.
  ['printer:lp7200', 'printer:query:lp7200', false],
  ['printer:*:lp7200', 'printer:lp7200', false],
  // Case-insensitive by default.
  ['Printer:Query', 'printer:query', true],
  ['printer:query', 'PRINTER:QUERY:LP7200', true],
];

describe('WildcardPermission: Shiro semantics', () => {
  it.each(SHIRO_TABLE)('%s implies %s: %s', (granted, checked, implied) => {
    expect(p(granted).implies(p(checked))).toBe(implied);
    // A string is parsed the same way.
    expect(p(granted).implies(checked)).toBe(implied);
  });

  it('is case-sensitive only when asked', () => {
    expect(p('Lane:Read', true).implies(p('lane:read', true))).toBe(false);
    expect(p('Lane:Read', true).implies(p('Lane:Read', true))).toBe(true);
    expect(p('Lane:Read', true).implies('Lane:Read:7')).toBe(true);
    expect(p('Lane:Read', true).toString()).toBe('Lane:Read');
    expect(p('Lane:Read').toString()).toBe('lane:read');
    expect(p('Lane:Read').caseSensitive).toBe(false);
  });

  // The checks of @RequiresPermissions and of permission strings are case-insensitive permissions: a
  // case-sensitive grant used to compare against their lower-cased values (`abc` granted `ABC`, `aBc` granted
  // nothing).
  it('compares a case-insensitive permission as written when the granting one is case-sensitive', () => {
    const granted = p('doc:read:abc', true);
    expect(granted.implies(p('doc:read:ABC'))).toBe(false);
    expect(granted.implies(p('doc:read:abc'))).toBe(true);
    expect(granted.implies(WildcardPermission.fromParts([['doc'], ['read'], ['ABC']]))).toBe(false);
    const mixed = p('doc:read:aBc', true);
    expect(mixed.implies(p('doc:read:aBc'))).toBe(true);
    expect(mixed.implies(WildcardPermission.fromParts([['doc'], ['read'], ['aBc']]))).toBe(true);
    expect(mixed.implies(p('Doc:Read:aBc'))).toBe(false);
    // A case-insensitive grant lower-cases what it is asked about, also a case-sensitive permission.
    expect(p('Doc:Read:ABC').implies(p('doc:read:Abc', true))).toBe(true);
    // Lower-casing stays what the permission shows.
    expect(p('Doc:Read:aBc').toString()).toBe('doc:read:abc');
    expect(WildcardPermission.fromParts([['Doc'], ['aBc']]).parts).toEqual([['doc'], ['abc']]);
  });

  it.each([
    ['printer:print,query', 'printer:query,print', true],
    ['printer:print,query:lp7200', 'PRINTER:QUERY,PRINT:LP7200', true],
    ['printer:print', 'printer:print:*', false],
    ['printer:print', 'printer:query', false],
  ])('%s equals %s: %s (value order ignored)', (a, b, equal) => {
    expect(p(a).equals(p(b))).toBe(equal);
    expect(p(b).equals(p(a))).toBe(equal);
  });

  it('equals nothing else', () => {
    expect(p('a:b').equals('a:b')).toBe(false);
    expect(p('a:b').equals(null)).toBe(false);
    expect(p('a:b').equals(p('a:b', true))).toBe(false);
  });

  it.each(['printer', 'printer:print,query:lp7200', '*:query', 'a:b:c:d,e,f:*'])(
    'toString round-trips %s',
    (text) => {
      const permission = p(text);
      expect(permission.toString()).toBe(text);
      expect(p(permission.toString()).equals(permission)).toBe(true);
      expect(JSON.stringify({ permission })).toBe(JSON.stringify({ permission: text }));
    },
  );

  it('trims parts and values', () => {
    expect(p('  printer : print , query ').toString()).toBe('printer:print,query');
  });

  it.each([
    ['', 'empty'],
    ['   ', 'blank'],
    [':', 'dividers'],
    ['::', 'dividers'],
    [',', 'dividers'],
    [':,:', 'dividers'],
    ['printer::lp7200', 'empty'],
    ['printer:print,', 'empty'],
    ['printer:', 'empty'],
    [':printer', 'empty'],
  ])('refuses %j with InvalidPermissionError', (text, why) => {
    let caught: unknown;
    try {
      p(text);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(InvalidPermissionError);
    expect((caught as Error).message).toContain(why);
  });

  it('refuses text longer than 4096 characters', () => {
    expect(() => p('x'.repeat(5000))).toThrow(/at most 4096/);
  });

  it('refuses text that is not a string', () => {
    expect(() => new WildcardPermission(42 as never)).toThrow(InvalidPermissionError);
    expect(() => p('a').implies(':')).toThrow(InvalidPermissionError);
  });

  it('fromParts keeps values literal: a divider or a wildcard in a value never widens', () => {
    const filled = (value: string) => WildcardPermission.fromParts([['lane'], ['read'], [value]]);
    expect(p('lane:read:7').implies(filled('7'))).toBe(true);
    expect(p('lane:read:*').implies(filled('7'))).toBe(true);
    expect(p('lane:read:7').implies(filled('*'))).toBe(false);
    expect(p('lane:read:7').implies(filled('7,8'))).toBe(false);
    expect(p('lane:read:7').implies(filled('7:8'))).toBe(false);
    expect(p('lane:read,delete').implies(filled('7:delete'))).toBe(true);
    expect(p('lane:delete').implies(WildcardPermission.fromParts([['lane'], ['read,delete']]))).toBe(false);
    expect(filled('LANE-7').parts).toEqual([['lane'], ['read'], ['lane-7']]);
    expect(WildcardPermission.fromParts([['A']], { caseSensitive: true }).parts).toEqual([['A']]);
  });

  it('fromParts refuses empty input', () => {
    expect(() => WildcardPermission.fromParts([])).toThrow(InvalidPermissionError);
    expect(() => WildcardPermission.fromParts([['lane'], []])).toThrow(InvalidPermissionError);
    expect(() => WildcardPermission.fromParts([['lane'], ['']])).toThrow(InvalidPermissionError);
    // A failed fromParts leaves nothing behind for the next constructor call.
    expect(p('lane:read').toString()).toBe('lane:read');
  });
});
