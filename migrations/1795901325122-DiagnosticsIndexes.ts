import { MigrationInterface, QueryRunner } from 'typeorm';
import {
  createIndexConcurrently,
  dropIndexConcurrently,
  replaceIndexConcurrently,
} from '../src/database/concurrent-index';

/**
 * Diagnostics at 1M events: received_at gains sequence (index-only sequence span of a date window), and the
 * (status, sequence) index becomes a partial index of the failed events with their event type (status=failed,
 * alone or with event_type, counted index-only; success and pending are too common to need an index).
 *
 * Built concurrently, outside a transaction, so that ingest never waits for it; the new indexes are built before
 * the old ones go, and every step can run again after an interruption (see concurrent-index.ts).
 */
export class DiagnosticsIndexes1795901325122 implements MigrationInterface {
  name = 'DiagnosticsIndexes1795901325122';
  transaction = false;

  public async up(queryRunner: QueryRunner): Promise<void> {
    await createIndexConcurrently(queryRunner, {
      name: 'idx_webhook_events_failed',
      table: 'webhook_events',
      columns: ['sequence', 'event_type'],
      where: `"status" = 'failed'`,
    });
    await replaceIndexConcurrently(queryRunner, {
      name: 'idx_webhook_events_received',
      table: 'webhook_events',
      columns: ['received_at', 'sequence'],
    });
    await dropIndexConcurrently(queryRunner, 'idx_webhook_events_status');
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await createIndexConcurrently(queryRunner, {
      name: 'idx_webhook_events_status',
      table: 'webhook_events',
      columns: ['status', 'sequence'],
    });
    await replaceIndexConcurrently(queryRunner, {
      name: 'idx_webhook_events_received',
      table: 'webhook_events',
      columns: ['received_at'],
    });
    await dropIndexConcurrently(queryRunner, 'idx_webhook_events_failed');
  }
}
