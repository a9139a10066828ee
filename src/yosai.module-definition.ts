import { ConfigurableModuleBuilder } from '@nestjs/common';
import type { YosaiModuleOptions } from './options/yosai-options.interface.js';

const definition = new ConfigurableModuleBuilder<YosaiModuleOptions>({ moduleName: 'Yosai' })
  .setClassMethodName('forRoot')
  .setFactoryMethodName('createYosaiOptions')
  .setExtras({ isGlobal: false }, (module, extras) => ({ ...module, global: extras.isGlobal }))
  .build();

export const YosaiConfigurableModule = definition.ConfigurableModuleClass;

/**
 * Injection token of the options given to `YosaiModule.forRoot()` / `forRootAsync()`, as given (before validation
 * and defaults): `@Inject(YOSAI_MODULE_OPTIONS) options: YosaiModuleOptions`.
 */
export const YOSAI_MODULE_OPTIONS: string | symbol = definition.MODULE_OPTIONS_TOKEN;

/** What `YosaiModule.forRoot()` takes: the module options plus `isGlobal`. */
export type YOSAI_OPTIONS_TYPE = typeof definition.OPTIONS_TYPE;
/** What `YosaiModule.forRootAsync()` takes: `imports`, `inject`, `useFactory` | `useClass` | `useExisting`, `isGlobal`. */
export type YOSAI_ASYNC_OPTIONS_TYPE = typeof definition.ASYNC_OPTIONS_TYPE;

/**
 * @deprecated A type, exported as a value by mistake in 0.1 (reading it at run time throws). Use the type of the
 * same name: `options: YOSAI_OPTIONS_TYPE`. The value goes in 0.3.
 */
export const YOSAI_OPTIONS_TYPE = definition.OPTIONS_TYPE;
/** @deprecated As {@link YOSAI_OPTIONS_TYPE}: use the type `YOSAI_ASYNC_OPTIONS_TYPE`. The value goes in 0.3. */
export const YOSAI_ASYNC_OPTIONS_TYPE = definition.ASYNC_OPTIONS_TYPE;
