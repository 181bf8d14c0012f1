import type { MigrationInterface, QueryRunner } from 'typeorm';
import { createIndexConcurrently, dropIndexConcurrently } from '../src/database/concurrent-index';

/**
 * Relinking without a scan: the relink job starts from the workflows written since its last run
 * (`idx_workflows_updated`) and finds the unmatched events naming them by their `workflow_id`
 * (`idx_webhook_events_unmatched`) or correlation id (`idx_webhook_events_unmatched_correlation`, only the
 * unmatched events), instead of reading every unmatched event each second.
 *
 * Built concurrently, outside a transaction, so that ingest and processing never wait for it.
 */
export class RelinkIndexes1796190000000 implements MigrationInterface {
  name = 'RelinkIndexes1796190000000';
  transaction = false;

  public async up(queryRunner: QueryRunner): Promise<void> {
    await createIndexConcurrently(queryRunner, {
      name: 'idx_workflows_updated',
      table: 'workflows',
      columns: ['updated_at'],
    });
    await createIndexConcurrently(queryRunner, {
      name: 'idx_webhook_events_unmatched_correlation',
      table: 'webhook_events',
      columns: ['correlation_id'],
      where: `"processing_status" = 'unmatched'`,
    });
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await dropIndexConcurrently(queryRunner, 'idx_webhook_events_unmatched_correlation');
    await dropIndexConcurrently(queryRunner, 'idx_workflows_updated');
  }
}
