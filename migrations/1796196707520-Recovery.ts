import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Recovery: bulk replays as durable jobs (`replay_jobs`, and `replay_job_workflows`: each selected workflow, marked
 * done in the transaction that replays it), and the audit log's new operator actions (requeue, export).
 */
export class Recovery1796196707520 implements MigrationInterface {
  name = 'Recovery1796196707520';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `CREATE TABLE "replay_jobs" ("id" text NOT NULL, "status" text NOT NULL, "selection" jsonb NOT NULL, "options" jsonb NOT NULL, "workflows_total" integer NOT NULL, "workflows_done" integer NOT NULL DEFAULT '0', "workflows_failed" integer NOT NULL DEFAULT '0', "requested_by" text, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), "finished_at" TIMESTAMP WITH TIME ZONE, CONSTRAINT "chk_replay_jobs_status" CHECK ("status" IN ('running','completed','failed')), CONSTRAINT "PK_939cc371fc8963311ea35953d3d" PRIMARY KEY ("id"))`,
    );
    await queryRunner.query(
      `CREATE INDEX "idx_replay_jobs_running" ON "replay_jobs"  ("created_at") WHERE "status" = 'running'`,
    );
    await queryRunner.query(
      `CREATE TABLE "replay_job_workflows" ("replay_id" text NOT NULL, "workflow_id" uuid NOT NULL, "position" integer NOT NULL, "from_status" text, "to_status" text, "events_replayed" integer NOT NULL DEFAULT '0', "replays" integer NOT NULL DEFAULT '0', "done_at" TIMESTAMP WITH TIME ZONE, "error" text, CONSTRAINT "PK_49f808167297070332a5ca7c657" PRIMARY KEY ("replay_id", "workflow_id"))`,
    );
    await queryRunner.query(
      `CREATE INDEX "idx_replay_job_workflows_todo" ON "replay_job_workflows"  ("replay_id", "position") WHERE "done_at" IS NULL`,
    );
    await queryRunner.query(
      `ALTER TABLE "replay_job_workflows" ADD CONSTRAINT "fk_replay_job_workflows_job" FOREIGN KEY ("replay_id") REFERENCES "replay_jobs"("id") ON DELETE CASCADE ON UPDATE NO ACTION`,
    );
    await queryRunner.query(
      `ALTER TABLE "replay_job_workflows" ADD CONSTRAINT "fk_replay_job_workflows_workflow" FOREIGN KEY ("workflow_id") REFERENCES "workflows"("id") ON DELETE CASCADE ON UPDATE NO ACTION`,
    );
    await queryRunner.query(`ALTER TABLE "audit_log" DROP CONSTRAINT "chk_audit_log_action"`);
    await queryRunner.query(
      `ALTER TABLE "audit_log" ADD CONSTRAINT "chk_audit_log_action" CHECK ("action" IN ('replay','cleanup','config_test','requeue','export'))`,
    );
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DELETE FROM "audit_log" WHERE "action" IN ('requeue','export')`);
    await queryRunner.query(`ALTER TABLE "audit_log" DROP CONSTRAINT "chk_audit_log_action"`);
    await queryRunner.query(
      `ALTER TABLE "audit_log" ADD CONSTRAINT "chk_audit_log_action" CHECK ("action" IN ('replay','cleanup','config_test'))`,
    );
    await queryRunner.query(
      `ALTER TABLE "replay_job_workflows" DROP CONSTRAINT "fk_replay_job_workflows_workflow"`,
    );
    await queryRunner.query(
      `ALTER TABLE "replay_job_workflows" DROP CONSTRAINT "fk_replay_job_workflows_job"`,
    );
    await queryRunner.query(`DROP INDEX "public"."idx_replay_job_workflows_todo"`);
    await queryRunner.query(`DROP TABLE "replay_job_workflows"`);
    await queryRunner.query(`DROP INDEX "public"."idx_replay_jobs_running"`);
    await queryRunner.query(`DROP TABLE "replay_jobs"`);
  }
}
