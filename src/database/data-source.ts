import { join } from 'node:path';
import { DataSource } from 'typeorm';
import { readProcessEnv } from '../config/environment';
import { loadSettings } from '../config/settings';
import { buildDataSourceOptions } from './data-source-options';

/**
 * For the TypeORM CLI (e.g. `npx typeorm migration:generate -d dist/src/database/data-source.js migrations/Name`
 * after `npm run build`). Needs DATABASE_URL. The entities are every `*.entity.js` of the build, wherever their
 * owning module keeps them.
 */
const settings = loadSettings(readProcessEnv());
if (!settings.databaseUrl) throw new Error('DATABASE_URL is required for the TypeORM CLI');
export default new DataSource(
  buildDataSourceOptions({
    url: settings.databaseUrl,
    poolSize: 2,
    entities: [join(__dirname, '..', '**', '*.entity.js')],
  }),
);
