import { readProcessEnv } from '../src/config/environment';
import { ConfigValidationError, loadSettings } from '../src/config/settings';
import { OpalConfigurationService } from '../src/modules/opal/opal-configuration.service';

/**
 * `npm run test:config` (the runbook's pre-deployment check): validates the environment as the service would at
 * start and prints the OPAL configuration report, secrets masked. Exits non-zero when anything is wrong.
 */
function main(): number {
  try {
    const settings = loadSettings(readProcessEnv());
    const report = new OpalConfigurationService(settings).report();
    process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
    return report.valid ? 0 : 1;
  } catch (error) {
    if (!(error instanceof ConfigValidationError)) throw error;
    process.stdout.write(`${JSON.stringify({ valid: false, problems: error.problems }, null, 2)}\n`);
    return 1;
  }
}

process.exitCode = main();
