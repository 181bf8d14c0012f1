import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { AppModule } from './app.module';
import { appOptions, configureApp } from './app.setup';
import { loadSettingsOrExit } from './config/environment';
import { applyMemoryPolicy } from './memory-policy';

async function bootstrap(): Promise<void> {
  applyMemoryPolicy();
  const settings = loadSettingsOrExit();
  const app = await NestFactory.create(
    AppModule.register(settings),
    appOptions(settings.debug, undefined, settings.logFormat),
  );
  configureApp(app);
  await app.listen(settings.port);
}

void bootstrap();
