import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { ConfigValidationError, loadSettings, type Settings } from './settings';

/**
 * Reads the process environment (and a `.env` file in the working directory, which never overrides variables
 * already set). The only place that touches `process.env`.
 */
export function readProcessEnv(): Record<string, string | undefined> {
  const envFile = resolve(process.cwd(), '.env');
  if (existsSync(envFile)) process.loadEnvFile(envFile);
  return { ...process.env };
}

/** Loads the settings for a process entry point; prints every problem and exits non-zero when invalid. */
export function loadSettingsOrExit(): Settings {
  try {
    return loadSettings(readProcessEnv(), process.cwd(), process.stdout.isTTY === true);
  } catch (error) {
    if (error instanceof ConfigValidationError) {
      process.stderr.write(
        `${JSON.stringify({ level: 'fatal', time: new Date().toISOString(), msg: 'Invalid configuration', problems: error.problems })}\n`,
      );
      process.exit(1);
    }
    throw error;
  }
}
