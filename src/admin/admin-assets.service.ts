import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Injectable, Logger } from '@nestjs/common';
import { AppError } from '../common/app-error';

export interface AdminAsset {
  body: Buffer;
  contentType: string;
}

/** The console's files; served only under these names (no path from the request reaches the file system). */
export const ADMIN_ASSETS: Readonly<Record<string, string>> = {
  'index.html': 'text/html; charset=utf-8',
  'console.js': 'text/javascript; charset=utf-8',
  'console.css': 'text/css; charset=utf-8',
};

/** The names served at `/admin/<name>`, outside the `/api` prefix. */
export const ADMIN_ASSET_NAMES: readonly string[] = Object.keys(ADMIN_ASSETS).filter(
  (n) => n !== 'index.html',
);

/**
 * The operator console's static files, read once at start from `public/admin` under the working directory
 * (the service runs from its root, as `npm start` and the Docker image do). A missing file is logged and
 * answered 404, so a slim image without the console still serves the API.
 */
@Injectable()
export class AdminAssetsService {
  private readonly logger = new Logger('AdminConsole');
  private readonly assets = new Map<string, AdminAsset>();

  constructor() {
    const dir = resolve(process.cwd(), 'public', 'admin');
    const missing: string[] = [];
    for (const [name, contentType] of Object.entries(ADMIN_ASSETS)) {
      try {
        this.assets.set(name, { body: readFileSync(join(dir, name)), contentType });
      } catch {
        missing.push(name);
      }
    }
    if (missing.length > 0) {
      this.logger.warn(`operator console files missing in ${dir}: ${missing.join(', ')}; /admin answers 404`);
    }
  }

  get(name: string): AdminAsset {
    const asset = this.assets.get(name);
    if (!asset) throw new AppError('NOT_FOUND', `The operator console file ${name} is not installed`);
    return asset;
  }
}
