import type { MigrationInterface, QueryRunner } from 'typeorm';
import { createIndexConcurrently, dropIndexConcurrently } from '../src/database/concurrent-index';

/**
 * The dead-letter inbox's "failed" list: events whose processing failed, newest first, from a partial index of
 * those events only (the unmatched ones have theirs already). Built concurrently, outside a transaction, so that
 * ingest never waits for it.
 */
export class DeadLetterIndex1796196707521 implements MigrationInterface {
  name = 'DeadLetterIndex1796196707521';
  transaction = false;

  public async up(queryRunner: QueryRunner): Promise<void> {
    await createIndexConcurrently(queryRunner, {
      name: 'idx_webhook_events_processing_failed',
      table: 'webhook_events',
      columns: ['sequence'],
      where: `"processing_status" = 'failed'`,
    });
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await dropIndexConcurrently(queryRunner, 'idx_webhook_events_processing_failed');
  }
}
