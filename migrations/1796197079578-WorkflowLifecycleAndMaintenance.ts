import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Cancel and rerun: the terminal status `cancelled` (the status CHECK gains it), when and why a workflow was
 * cancelled, and which workflow a rerun repeats; the audit log's actions gain cancel, rerun and maintenance.
 * Maintenance mode: a one-row table every instance reads.
 * TypeORM does not compare CHECK expressions, so the two widened constraints are written here by hand.
 */
export class WorkflowLifecycleAndMaintenance1796197079578 implements MigrationInterface {
  name = 'WorkflowLifecycleAndMaintenance1796197079578';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `CREATE TABLE "maintenance_mode" ("id" smallint NOT NULL, "mode" text NOT NULL, "since" TIMESTAMP WITH TIME ZONE NOT NULL, "reason" text, "changed_by" text, CONSTRAINT "chk_maintenance_mode_mode" CHECK ("mode" IN ('normal','paused')), CONSTRAINT "chk_maintenance_mode_single_row" CHECK ("id" = 1), CONSTRAINT "PK_a2b22f33b28bf36c57d1aad1b50" PRIMARY KEY ("id"))`,
    );
    await queryRunner.query(`ALTER TABLE "workflows" ADD "cancelled_at" TIMESTAMP WITH TIME ZONE`);
    await queryRunner.query(`ALTER TABLE "workflows" ADD "cancel_reason" text`);
    await queryRunner.query(`ALTER TABLE "workflows" ADD "rerun_of" uuid`);
    await queryRunner.query(`ALTER TABLE "workflows" DROP CONSTRAINT "chk_workflows_status"`);
    await queryRunner.query(
      `ALTER TABLE "workflows" ADD CONSTRAINT "chk_workflows_status" CHECK ("status" IN ('pending','triggered','running','completed','partially_completed','failed','timed_out','trigger_failed','cancelled'))`,
    );
    await queryRunner.query(`ALTER TABLE "audit_log" DROP CONSTRAINT "chk_audit_log_action"`);
    await queryRunner.query(
      `ALTER TABLE "audit_log" ADD CONSTRAINT "chk_audit_log_action" CHECK ("action" IN ('replay','cleanup','config_test','requeue','export','cancel','rerun','maintenance'))`,
    );
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "audit_log" DROP CONSTRAINT "chk_audit_log_action"`);
    await queryRunner.query(
      `ALTER TABLE "audit_log" ADD CONSTRAINT "chk_audit_log_action" CHECK ("action" IN ('replay','cleanup','config_test','requeue','export'))`,
    );
    await queryRunner.query(`ALTER TABLE "workflows" DROP CONSTRAINT "chk_workflows_status"`);
    await queryRunner.query(
      `ALTER TABLE "workflows" ADD CONSTRAINT "chk_workflows_status" CHECK ("status" IN ('pending','triggered','running','completed','partially_completed','failed','timed_out','trigger_failed'))`,
    );
    await queryRunner.query(`ALTER TABLE "workflows" DROP COLUMN "rerun_of"`);
    await queryRunner.query(`ALTER TABLE "workflows" DROP COLUMN "cancel_reason"`);
    await queryRunner.query(`ALTER TABLE "workflows" DROP COLUMN "cancelled_at"`);
    await queryRunner.query(`DROP TABLE "maintenance_mode"`);
  }
}
