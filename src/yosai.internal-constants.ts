/** Injection token of the validated, frozen configuration (internal). */
export const YOSAI_CONFIG = 'nestjs-yosai:config';
/** Metadata key written by the `@Requires…()` decorators. */
export const YOSAI_REQUIREMENT = 'nestjs-yosai:requirement';
/** Metadata key written by `@RequiresRoles()` / `@RequiresPermissions()`: a list of authorization rules. */
export const YOSAI_AUTHORIZATION = 'nestjs-yosai:authorization';
/**
 * Injection token of the function that loads `@nestjs/event-emitter` (internal). A provider, so that a test can
 * stand in for a failed or missing install without touching the module system.
 */
export const YOSAI_EVENT_EMITTER_LOADER = 'nestjs-yosai:event-emitter-loader';
