import { Global, Module, type DynamicModule } from '@nestjs/common';
import { AppConfig } from './app-config';
import type { Settings } from './settings';

@Global()
@Module({})
export class AppConfigModule {
  static forRoot(settings: Settings): DynamicModule {
    return {
      module: AppConfigModule,
      providers: [{ provide: AppConfig, useValue: Object.freeze({ ...settings }) }],
      exports: [AppConfig],
    };
  }
}
