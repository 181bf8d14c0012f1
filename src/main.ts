import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { AppModule } from './app.module';
import { appOptions, configureApp } from './app.setup';
import { loadSettingsOrExit } from './config/environment';

async function bootstrap(): Promise<void> {
  const settings = loadSettingsOrExit();
  const app = await NestFactory.create(AppModule.register(settings), appOptions(settings.debug));
  configureApp(app);
  await app.listen(settings.port);
}

void bootstrap();
