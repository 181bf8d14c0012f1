import { Injectable, Logger } from '@nestjs/common';
import { connect } from 'node:net';
import { DataSource } from 'typeorm';
import { AuditService } from '../../audit/audit.service';
import { AuthFailuresService } from '../../audit/auth-failures.service';
import { AppConfig } from '../../config/app-config';
import { IdempotencyService } from '../sync/idempotency.service';
import { CLEANUP_BATCH_SIZE, WebhookEventsService } from '../webhooks/webhook-events.service';
import { OpalConfigurationService } from '../opal/opal-configuration.service';
import { OpalTargetService } from '../opal/opal-target.service';
import { MaintenanceModeService } from '../maintenance/maintenance-mode.service';
import type {
  CleanupResponseDto,
  ConfigurationCheckResultDto,
  ConfigurationTestResponseDto,
} from './dto/diagnostics-action-response.dto';

const OPAL_CONNECT_TIMEOUT_MS = 5000;

interface Actor {
  actor?: string | null;
  clientIp?: string | null;
  method?: string | null;
  route?: string | null;
}

/**
 * The diagnostics POST actions: configuration test and retention (also run daily by the scheduler; refused in
 * maintenance mode, except as a dry run): old events
 * and refused-delivery counters (webhooks module), expired idempotency keys (sync module).
 */
@Injectable()
export class MaintenanceService {
  private readonly logger = new Logger('Maintenance');

  constructor(
    private readonly dataSource: DataSource,
    private readonly events: WebhookEventsService,
    private readonly idempotency: IdempotencyService,
    private readonly audit: AuditService,
    private readonly authFailures: AuthFailuresService,
    private readonly config: AppConfig,
    private readonly opalConfiguration: OpalConfigurationService,
    private readonly opalTarget: OpalTargetService,
    private readonly maintenanceMode: MaintenanceModeService,
  ) {}

  async testConfiguration(actor: Actor): Promise<ConfigurationTestResponseDto> {
    const report = this.opalConfiguration.report();
    const checks: ConfigurationCheckResultDto[] = [
      await timed('configuration', () => {
        const failing = report.checks.filter((c) => !c.ok);
        return Promise.resolve(
          failing.length === 0
            ? { ok: true, message: `valid (${report.mode} mode)` }
            : { ok: false, message: failing.map((c) => `${c.name}: ${c.message}`).join('; ') },
        );
      }),
      await timed('database', async () => {
        await this.dataSource.query('SELECT 1');
        return { ok: true, message: 'reachable' };
      }),
      await timed('migrations', async () => {
        const pending = await this.dataSource.showMigrations();
        return pending
          ? { ok: false, message: 'migrations are pending' }
          : { ok: true, message: 'all migrations applied' };
      }),
      await timed('opal_host', () => this.checkOpalHost()),
    ];
    const success = checks.every((c) => c.ok);
    // The test is most needed when the database is down, and then it cannot be audited: answer anyway.
    await this.audit
      .record({
        action: 'config_test',
        ...actor,
        details: { success, failed: checks.filter((c) => !c.ok).map((c) => c.name) },
      })
      .catch((error: unknown) =>
        this.logger.error({ msg: 'Could not audit a configuration test', error: (error as Error).message }),
      );
    return { success, action: 'test_configuration', mode: report.mode, checks };
  }

  /** A TCP connection to OPAL's host (or the built-in simulator): proves reachability without triggering anything. */
  private async checkOpalHost(): Promise<{ ok: boolean; message: string }> {
    let target: URL;
    try {
      target = new URL(this.opalTarget.url());
    } catch {
      return { ok: false, message: 'no OPAL URL to connect to' };
    }
    const port = Number(target.port || (target.protocol === 'https:' ? 443 : 80));
    const host = target.hostname.replace(/^\[|\]$/g, '');
    const label = this.opalTarget.simulated ? 'built-in OPAL simulator' : `OPAL host ${host}:${port}`;
    await new Promise<void>((resolve, reject) => {
      const socket = connect({ host, port });
      socket.setTimeout(OPAL_CONNECT_TIMEOUT_MS);
      socket.once('connect', () => {
        socket.destroy();
        resolve();
      });
      socket.once('timeout', () => {
        socket.destroy();
        reject(new Error(`no answer within ${OPAL_CONNECT_TIMEOUT_MS} ms`));
      });
      socket.once('error', reject);
    }).catch((error: unknown) => {
      throw new Error(`${label} unreachable: ${(error as Error).message}`);
    });
    return { ok: true, message: `${label} accepts connections` };
  }

  async cleanup(
    retentionDays: number,
    dryRun: boolean,
    actor: Actor & { trigger: 'request' | 'schedule' },
  ): Promise<CleanupResponseDto> {
    // Retention is held in maintenance mode (a dry run deletes nothing, so it is still answered).
    if (!dryRun) await this.maintenanceMode.assertWritable();
    const events = await this.events.deleteOlderThan(retentionDays, dryRun);
    const result = {
      deleted: events.events,
      olderThan: events.olderThan,
      rejectedDeliveries: events.rejectedDeliveries,
      idempotencyKeys: await this.idempotency.deleteExpired(dryRun),
      authFailures: dryRun
        ? await this.authFailures.countOlderThan(events.olderThan)
        : await this.authFailures.deleteOlderThan(events.olderThan, CLEANUP_BATCH_SIZE),
    };
    const { trigger, ...who } = actor;
    await this.audit.record({
      action: 'cleanup',
      ...who,
      details: {
        trigger,
        retention_days: retentionDays,
        dry_run: dryRun,
        deleted: result.deleted,
        older_than: result.olderThan.toISOString(),
        rejected_deliveries: result.rejectedDeliveries,
        idempotency_keys: result.idempotencyKeys,
        auth_failures: result.authFailures,
      },
    });
    this.logger.log({
      msg: dryRun ? 'Cleanup dry run' : 'Cleanup done',
      trigger,
      retention_days: retentionDays,
      deleted: result.deleted,
    });
    return {
      success: true,
      action: 'cleanup_old_events',
      deleted: result.deleted,
      older_than: result.olderThan.toISOString(),
      retention_days: retentionDays,
      dry_run: dryRun,
      pruned: {
        rejected_deliveries: result.rejectedDeliveries,
        idempotency_keys: result.idempotencyKeys,
        auth_failures: result.authFailures,
      },
    };
  }
}

async function timed(
  name: string,
  check: () => Promise<{ ok: boolean; message: string }>,
): Promise<ConfigurationCheckResultDto> {
  const started = process.hrtime.bigint();
  let outcome: { ok: boolean; message: string };
  try {
    outcome = await check();
  } catch (error) {
    outcome = { ok: false, message: (error as Error).message || 'failed' };
  }
  const durationMs = Math.round(Number(process.hrtime.bigint() - started) / 1e4) / 100;
  return { name, ...outcome, duration_ms: durationMs };
}
