import { InvalidPermissionError, YosaiConfigurationError } from '../errors/yosai.errors.js';
import { RequiresPermissions, RequiresRoles } from '../http/requires-authorization.decorator.js';
import { PermissionTemplate } from './permission-template.js';
import { WildcardPermission } from './wildcard-permission.js';

describe('PermissionTemplate (the text of @RequiresPermissions)', () => {
  it('fills whole values from route parameters, literally and lower-cased', () => {
    const template = new PermissionTemplate('Doc:read,write:{id}');
    expect(template.params).toEqual(['id']);
    const filled = template.fill({ id: 'A:B,*' })!;
    expect(filled.parts).toEqual([['doc'], ['read', 'write'], ['a:b,*']]);
    expect(new WildcardPermission('doc:read:a').implies(filled)).toBe(false);
    expect(new WildcardPermission('doc:*:*').implies(filled)).toBe(true);
    expect(template.fill({ id: 7 })!.toString()).toBe('doc:read,write:7');
  });

  it('a template without placeholders is one permission, whatever the parameters', () => {
    const template = new PermissionTemplate('league:manage');
    expect(template.fill(undefined)!.toString()).toBe('league:manage');
    expect(template.fill({ anything: '*' })).toBe(template.fill(undefined));
  });

  it('an empty parameter cannot be met; a missing one is a programming error', () => {
    const template = new PermissionTemplate('doc:read:{id}');
    expect(template.fill({ id: '' })).toBeNull();
    expect(() => template.fill({})).toThrow(YosaiConfigurationError);
    expect(() => template.fill(undefined)).toThrow(/route parameter :id/);
  });

  it.each(['doc:read:v{id}', 'doc:read:{a:b}', 'doc::{id}', '', ':', 'doc:read:{id}x'])(
    'refuses %j when the class is defined',
    (text) => {
      expect(() => new PermissionTemplate(text)).toThrow(InvalidPermissionError);
    },
  );
});

describe('@RequiresRoles / @RequiresPermissions refuse bad input when the class is defined', () => {
  it.each([
    ['no role', () => RequiresRoles()],
    ['an empty role', () => RequiresRoles(' ')],
    ['an unknown logical', () => RequiresRoles('a', { logical: 'some' as never })],
    ['only options', () => RequiresPermissions({ logical: 'any' })],
  ])('%s', (_, make) => {
    expect(make).toThrow(YosaiConfigurationError);
  });

  it('a bad permission', () => {
    expect(() => RequiresPermissions('lane::7')).toThrow(InvalidPermissionError);
  });
});
