import 'reflect-metadata';
import { writeFileSync } from 'node:fs';
import { NestFactory } from '@nestjs/core';
import { AppModule } from '../src/app.module';
import { applyGlobalPrefix } from '../src/app.setup';
import { loadSettings } from '../src/config/settings';
import { buildOpenApiDocument } from '../src/openapi';

/**
 * `npm run openapi`: writes openapi.json from the code. The app is created in preview mode (no provider runs,
 * so no database is needed) with development settings; the document does not depend on settings.
 */
async function main(): Promise<void> {
  const settings = loadSettings({ NODE_ENV: 'development', DATA_DIR: '.data' });
  const app = await NestFactory.create(AppModule.register(settings), { preview: true, logger: false });
  applyGlobalPrefix(app);
  const document = buildOpenApiDocument(app);
  writeFileSync('openapi.json', `${JSON.stringify(document, null, 2)}\n`);
  await app.close();
}

void main();
