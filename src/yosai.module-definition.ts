import { ConfigurableModuleBuilder } from '@nestjs/common';
import type { YosaiModuleOptions } from './options/yosai-options.interface.js';

export const {
  ConfigurableModuleClass: YosaiConfigurableModule,
  MODULE_OPTIONS_TOKEN: YOSAI_MODULE_OPTIONS,
  OPTIONS_TYPE: YOSAI_OPTIONS_TYPE,
  ASYNC_OPTIONS_TYPE: YOSAI_ASYNC_OPTIONS_TYPE,
} = new ConfigurableModuleBuilder<YosaiModuleOptions>({ moduleName: 'Yosai' })
  .setClassMethodName('forRoot')
  .setFactoryMethodName('createYosaiOptions')
  .setExtras({ isGlobal: false }, (definition, extras) => ({ ...definition, global: extras.isGlobal }))
  .build();
