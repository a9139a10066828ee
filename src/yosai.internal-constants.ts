/** Injection token of the validated, frozen configuration (internal). */
export const YOSAI_CONFIG = 'nestjs-yosai:config';
/** Metadata key written by the `@Requires…()` decorators. */
export const YOSAI_REQUIREMENT = 'nestjs-yosai:requirement';
/** Metadata key written by `@RequiresRoles()` / `@RequiresPermissions()`: a list of authorization rules. */
export const YOSAI_AUTHORIZATION = 'nestjs-yosai:authorization';
