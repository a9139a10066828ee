/** Injection token of the validated, frozen configuration (internal). */
export const YOSAI_CONFIG = 'nestjs-yosai:config';
/** Metadata key written by the `@Requires…()` decorators. */
export const YOSAI_REQUIREMENT = 'nestjs-yosai:requirement';
/** Version of the stored record envelope. Records with another version are discarded. */
export const RECORD_VERSION = 1;
