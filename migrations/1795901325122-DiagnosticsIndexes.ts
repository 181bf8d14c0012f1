import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Diagnostics at 1M events: received_at gains sequence (index-only sequence span of a date window), and the
 * (status, sequence) index becomes a partial index of the failed events with their event type (status=failed,
 * alone or with event_type, counted index-only; success and pending are too common to need an index).
 */
export class DiagnosticsIndexes1795901325122 implements MigrationInterface {
  name = 'DiagnosticsIndexes1795901325122';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP INDEX "public"."idx_webhook_events_received"`);
    await queryRunner.query(`DROP INDEX "public"."idx_webhook_events_status"`);
    await queryRunner.query(
      `CREATE INDEX "idx_webhook_events_received" ON "webhook_events"  ("received_at", "sequence") `,
    );
    await queryRunner.query(
      `CREATE INDEX "idx_webhook_events_failed" ON "webhook_events"  ("sequence", "event_type") WHERE "status" = 'failed'`,
    );
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP INDEX "public"."idx_webhook_events_failed"`);
    await queryRunner.query(`DROP INDEX "public"."idx_webhook_events_received"`);
    await queryRunner.query(
      `CREATE INDEX "idx_webhook_events_status" ON "webhook_events"  ("status", "sequence") `,
    );
    await queryRunner.query(
      `CREATE INDEX "idx_webhook_events_received" ON "webhook_events"  ("received_at") `,
    );
  }
}
