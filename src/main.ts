import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { AppModule } from './app.module';
import { appOptions, configureApp, createHttpAdapter } from './app.setup';
import { loadSettingsOrExit } from './config/environment';
import { applyMemoryPolicy } from './memory-policy';

async function bootstrap(): Promise<void> {
  applyMemoryPolicy();
  const settings = loadSettingsOrExit();
  const app = await NestFactory.create(
    AppModule.register(settings),
    createHttpAdapter(),
    appOptions(settings.debug, undefined, settings.logFormat),
  );
  await configureApp(app);
  // HOST, or 127.0.0.1 while operator routes are open outside production; otherwise every interface.
  if (settings.host === undefined) await app.listen(settings.port);
  else await app.listen(settings.port, settings.host);
}

void bootstrap();
