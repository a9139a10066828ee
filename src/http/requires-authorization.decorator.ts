import { PermissionTemplate } from '../authz/permission-template.js';
import { YosaiConfigurationError } from '../errors/yosai.errors.js';
import { YOSAI_AUTHORIZATION } from '../yosai.internal-constants.js';

/** Options of {@link RequiresRoles} and {@link RequiresPermissions}. */
export interface RequiresAuthorizationOptions {
  /**
   * `'all'`: the Subject needs every listed role/permission; `'any'`: one of them is enough.
   * @default 'all'
   */
  logical?: 'all' | 'any';
}

/** One authorization rule a decorator put on a controller or handler. @internal */
export type AuthorizationRule =
  | { readonly kind: 'role'; readonly roles: readonly string[]; readonly logical: 'all' | 'any' }
  | {
      readonly kind: 'permission';
      readonly templates: readonly PermissionTemplate[];
      readonly logical: 'all' | 'any';
    };

type Requirement = string | RequiresAuthorizationOptions;

/**
 * `YosaiGuard` answers 401 to a guest and 403 to a signed-in Subject that lacks the roles (all of them, or any
 * one with `{ logical: 'any' }`). On a controller it applies to every handler; rules on the controller and on
 * the handler, and `@RequiresAuthentication()`, all apply. Roles come from the realms' `getAuthorizationInfo`.
 * @throws YosaiConfigurationError when the class is defined, for an empty or non-text role
 * @example
 * @Get('league') @RequiresRoles('captain')
 * league() { return { ok: true }; }
 * @example
 * @Controller('admin') @RequiresRoles('admin', 'owner', { logical: 'any' })
 * export class AdminController {}
 */
export function RequiresRoles(...requirements: Requirement[]): ClassDecorator & MethodDecorator {
  const { values, logical } = split('RequiresRoles', requirements);
  return addRule({ kind: 'role', roles: values, logical });
}

/**
 * `YosaiGuard` answers 401 to a guest and 403 to a signed-in Subject whose permissions do not imply these (all of
 * them, or any one with `{ logical: 'any' }`). A value written `{name}` is filled from the route parameter of that
 * name, taken literally: a parameter holding `:`, `,` or `*` cannot widen the check.
 * @throws InvalidPermissionError when the class is defined, for text that is not a permission
 * @example
 * @Delete('lanes/:lane') @RequiresPermissions('lane:delete:{lane}')
 * remove(@Param('lane') lane: string) { … }
 */
export function RequiresPermissions(...requirements: Requirement[]): ClassDecorator & MethodDecorator {
  const { values, logical } = split('RequiresPermissions', requirements);
  return addRule({ kind: 'permission', templates: values.map((v) => new PermissionTemplate(v)), logical });
}

function split(decorator: string, requirements: Requirement[]) {
  const last = requirements[requirements.length - 1];
  const options = last !== undefined && typeof last === 'object' ? last : {};
  const values = (options === last ? requirements.slice(0, -1) : requirements) as unknown[];
  const logical = options.logical ?? 'all';
  if (logical !== 'all' && logical !== 'any') {
    throw new YosaiConfigurationError(`@${decorator}(): logical must be 'all' or 'any'.`);
  }
  if (values.length === 0 || !values.every((v) => typeof v === 'string' && v.trim().length > 0)) {
    throw new YosaiConfigurationError(`@${decorator}() needs one or more non-empty strings.`);
  }
  return { values: values as string[], logical };
}

function addRule(rule: AuthorizationRule): ClassDecorator & MethodDecorator {
  return (target: object, _key?: string | symbol, descriptor?: PropertyDescriptor) => {
    const where = (descriptor?.value as object | undefined) ?? target;
    const existing =
      (Reflect.getMetadata(YOSAI_AUTHORIZATION, where) as AuthorizationRule[] | undefined) ?? [];
    Reflect.defineMetadata(YOSAI_AUTHORIZATION, [...existing, rule], where);
  };
}
