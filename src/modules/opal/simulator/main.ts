import { HmacService } from '../../../common/hmac.service';
import { loadSettingsOrExit } from '../../../config/environment';
import { OpalSimulator } from './opal-simulator';

/**
 * Runs the OPAL simulator on its own (`npm run opal:sim`) so tests can stop and restart "OPAL". It reads the
 * service's settings, so with no environment it uses the same generated development key and secret (DATA_DIR).
 */

type Level = 'info' | 'warn' | 'error';

function log(level: Level, message: string, meta: Record<string, unknown> = {}): void {
  const line = { level, time: new Date().toISOString(), service: 'opal-simulator', msg: message, ...meta };
  process.stdout.write(`${JSON.stringify(line)}\n`);
}

async function main(): Promise<void> {
  const { opal, webhook, simulator: settings } = loadSettingsOrExit();
  const simulator = new OpalSimulator({
    authKey: opal.authKey,
    hmac: new HmacService(webhook),
    callbackUrl: settings.callbackUrl,
    agentDelayMs: settings.agentDelayMs,
    failAgents: settings.failAgents,
    triggerFailures: settings.triggerFailures,
    port: settings.port,
    log,
  });
  await simulator.start();
  const callbackUrl = new URL(settings.callbackUrl);
  log('info', 'OPAL simulator ready', {
    // Origin and path only: user info or a query string in the URL could carry credentials.
    callback_url: `${callbackUrl.origin}${callbackUrl.pathname}`,
    agent_delay_ms: settings.agentDelayMs,
    fail_agents: settings.failAgents,
    trigger_failures: settings.triggerFailures,
  });

  let stopping = false;
  const shutdown = (signal: NodeJS.Signals): void => {
    if (stopping) {
      return;
    }
    stopping = true;
    log('info', 'OPAL simulator stopping', { signal });
    simulator.stop().then(
      () => process.exit(0),
      (err: unknown) => {
        log('error', 'OPAL simulator did not stop cleanly', {
          error: err instanceof Error ? err.message : String(err),
        });
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', shutdown);
  process.once('SIGINT', shutdown);
}

main().catch((err: unknown) => {
  log('error', 'OPAL simulator failed to start', { error: err instanceof Error ? err.message : String(err) });
  process.exit(1);
});
