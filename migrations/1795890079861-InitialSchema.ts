import { MigrationInterface, QueryRunner } from 'typeorm';

export class InitialSchema1795890079861 implements MigrationInterface {
  name = 'InitialSchema1795890079861';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `CREATE TABLE "audit_log" ("id" bigint GENERATED ALWAYS AS IDENTITY NOT NULL, "occurred_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), "action" text NOT NULL, "actor" text, "client_ip" text, "method" text, "route" text, "correlation_id" text, "details" jsonb NOT NULL DEFAULT '{}'::jsonb, CONSTRAINT "chk_audit_log_action" CHECK ("action" IN ('auth_failure','replay','cleanup','config_test')), CONSTRAINT "PK_07fefa57f7f5ab8fc3f52b3ed0b" PRIMARY KEY ("id"))`,
    );
    await queryRunner.query(
      `CREATE INDEX "idx_audit_log_action_time" ON "audit_log"  ("action", "occurred_at") `,
    );
    await queryRunner.query(
      `CREATE TABLE "idempotency_keys" ("scope" text NOT NULL, "key" text NOT NULL, "request_hash" text NOT NULL, "status_code" integer, "response_body" jsonb, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), "expires_at" TIMESTAMP WITH TIME ZONE NOT NULL, CONSTRAINT "PK_15de2f76fa9f27ad8f330983607" PRIMARY KEY ("scope", "key"))`,
    );
    await queryRunner.query(
      `CREATE TABLE "rejected_deliveries" ("bucket" TIMESTAMP WITH TIME ZONE NOT NULL, "reason" text NOT NULL, "client_ip" text NOT NULL, "count" integer NOT NULL DEFAULT '1', "first_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), "last_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), "last_detail" text, "last_correlation_id" text, CONSTRAINT "chk_rejected_deliveries_reason" CHECK ("reason" IN ('signature_invalid','body_invalid','payload_too_large','unsupported_media_type','workflow_not_allowed','duplicate')), CONSTRAINT "PK_22c0e3c87a40378b1edfeffe180" PRIMARY KEY ("bucket", "reason", "client_ip"))`,
    );
    await queryRunner.query(
      `CREATE TABLE "workflows" ("id" uuid NOT NULL, "correlation_id" text NOT NULL, "opal_workflow_id" text, "session_id" text, "workflow_name" text NOT NULL DEFAULT 'strategy_workflow', "source" text NOT NULL, "status" text NOT NULL, "sync_scope" text, "client_name" text NOT NULL, "triggered_by" text NOT NULL, "outbound_payload" jsonb NOT NULL, "trigger_attempts" integer NOT NULL DEFAULT '0', "last_status_code" integer, "last_error" text, "next_attempt_at" TIMESTAMP WITH TIME ZONE, "response_time_ms" integer, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), "triggered_at" TIMESTAMP WITH TIME ZONE, "started_at" TIMESTAMP WITH TIME ZONE, "completed_at" TIMESTAMP WITH TIME ZONE, "updated_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "UQ_ba78cbea4c1730ca0ba60ce6792" UNIQUE ("correlation_id"), CONSTRAINT "chk_workflows_scope" CHECK ("sync_scope" IS NULL OR "sync_scope" IN ('priority_platforms','all_platforms','odp_only','content_platforms')), CONSTRAINT "chk_workflows_name" CHECK ("workflow_name" = 'strategy_workflow'), CONSTRAINT "chk_workflows_source" CHECK ("source" IN ('force_sync','orchestration_trigger')), CONSTRAINT "chk_workflows_status" CHECK ("status" IN ('pending','triggered','running','completed','partially_completed','failed','timed_out','trigger_failed')), CONSTRAINT "PK_5b5757cc1cd86268019fef52e0c" PRIMARY KEY ("id"))`,
    );
    await queryRunner.query(
      `CREATE UNIQUE INDEX "uq_workflows_opal_workflow_id" ON "workflows"  ("opal_workflow_id") WHERE "opal_workflow_id" IS NOT NULL`,
    );
    await queryRunner.query(
      `CREATE INDEX "idx_workflows_due" ON "workflows"  ("next_attempt_at") WHERE "status" = 'pending'`,
    );
    await queryRunner.query(
      `CREATE INDEX "idx_workflows_active_key" ON "workflows"  ("sync_scope", "client_name", "created_at") WHERE "status" IN ('pending','triggered','running')`,
    );
    await queryRunner.query(
      `CREATE INDEX "idx_workflows_status_created" ON "workflows"  ("status", "created_at") `,
    );
    await queryRunner.query(`CREATE INDEX "idx_workflows_created" ON "workflows"  ("created_at") `);
    await queryRunner.query(
      `CREATE TABLE "webhook_events" ("id" uuid NOT NULL, "sequence" BIGSERIAL NOT NULL, "idempotency_key" text NOT NULL, "source_event_id" text, "event_type" text NOT NULL, "raw_event_type" text, "workflow_ref" text NOT NULL, "workflow_name" text, "sync_id" uuid, "agent_id" text, "execution_status" text, "status" text NOT NULL, "correlation_id" text, "error_message" text, "occurred_at" TIMESTAMP WITH TIME ZONE NOT NULL, "received_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), "processing_status" text NOT NULL DEFAULT 'pending', "processed_at" TIMESTAMP WITH TIME ZONE, "processing_time_ms" integer, "processing_error" text, "payload" jsonb NOT NULL, CONSTRAINT "chk_webhook_events_processing_status" CHECK ("processing_status" IN ('pending','processed','unmatched','failed')), CONSTRAINT "chk_webhook_events_execution_status" CHECK ("execution_status" IS NULL OR "execution_status" IN ('success','failure','pending','timeout')), CONSTRAINT "chk_webhook_events_status" CHECK ("status" IN ('success','failed','pending')), CONSTRAINT "chk_webhook_events_type" CHECK ("event_type" IN ('workflow_started','agent_started','agent_completed','workflow_completed','workflow_failed')), CONSTRAINT "PK_4cba37e6a0acb5e1fc49c34ebfd" PRIMARY KEY ("id"))`,
    );
    await queryRunner.query(
      `CREATE INDEX "idx_webhook_events_received" ON "webhook_events"  ("received_at") `,
    );
    await queryRunner.query(
      `CREATE INDEX "idx_webhook_events_correlation" ON "webhook_events"  ("correlation_id", "sequence") `,
    );
    await queryRunner.query(
      `CREATE INDEX "idx_webhook_events_agent" ON "webhook_events"  ("agent_id", "sequence") `,
    );
    await queryRunner.query(
      `CREATE INDEX "idx_webhook_events_status" ON "webhook_events"  ("status", "sequence") `,
    );
    await queryRunner.query(
      `CREATE INDEX "idx_webhook_events_type" ON "webhook_events"  ("event_type", "sequence") `,
    );
    await queryRunner.query(
      `CREATE INDEX "idx_webhook_events_workflow_ref" ON "webhook_events"  ("workflow_ref", "sequence") `,
    );
    await queryRunner.query(
      `CREATE INDEX "idx_webhook_events_sync" ON "webhook_events"  ("sync_id", "sequence") `,
    );
    await queryRunner.query(
      `CREATE INDEX "idx_webhook_events_unmatched" ON "webhook_events"  ("workflow_ref") WHERE "processing_status" = 'unmatched'`,
    );
    await queryRunner.query(
      `CREATE INDEX "idx_webhook_events_processing" ON "webhook_events"  ("sequence") WHERE "processing_status" = 'pending'`,
    );
    await queryRunner.query(
      `CREATE UNIQUE INDEX "uq_webhook_events_idempotency_key" ON "webhook_events"  ("idempotency_key") `,
    );
    await queryRunner.query(
      `CREATE UNIQUE INDEX "uq_webhook_events_sequence" ON "webhook_events"  ("sequence") `,
    );
    await queryRunner.query(
      `CREATE TABLE "agent_runs" ("workflow_id" uuid NOT NULL, "agent_id" text NOT NULL, "status" text NOT NULL DEFAULT 'pending', "started_at" TIMESTAMP WITH TIME ZONE, "completed_at" TIMESTAMP WITH TIME ZONE, "error" text, CONSTRAINT "chk_agent_runs_agent" CHECK ("agent_id" IN ('integration_health','content_review','geo_audit','audience_suggester','experiment_blueprinter','personalization_idea_generator','customer_journey','roadmap_generator','cmp_organizer')), CONSTRAINT "chk_agent_runs_status" CHECK ("status" IN ('pending','running','completed','failed','timed_out')), CONSTRAINT "PK_b412806a3d9613dc15d160cfac8" PRIMARY KEY ("workflow_id", "agent_id"))`,
    );
    await queryRunner.query(
      `CREATE TABLE "trigger_attempts" ("id" bigint GENERATED ALWAYS AS IDENTITY NOT NULL, "workflow_id" uuid NOT NULL, "attempt" integer NOT NULL, "started_at" TIMESTAMP WITH TIME ZONE NOT NULL, "duration_ms" integer NOT NULL, "status_code" integer, "outcome" text NOT NULL, "error" text, CONSTRAINT "chk_trigger_attempts_outcome" CHECK ("outcome" IN ('accepted','retryable','rejected')), CONSTRAINT "PK_ddb82879e39947671123fd568ce" PRIMARY KEY ("id"))`,
    );
    await queryRunner.query(
      `CREATE UNIQUE INDEX "uq_trigger_attempts_workflow_attempt" ON "trigger_attempts"  ("workflow_id", "attempt") `,
    );
    await queryRunner.query(
      `CREATE TABLE "job_leases" ("name" text NOT NULL, "last_run_at" TIMESTAMP WITH TIME ZONE, "last_result" jsonb, CONSTRAINT "PK_a5aaa7b6169ce751dd85a6f0beb" PRIMARY KEY ("name"))`,
    );
    await queryRunner.query(
      `ALTER TABLE "webhook_events" ADD CONSTRAINT "fk_webhook_events_workflow" FOREIGN KEY ("sync_id") REFERENCES "workflows"("id") ON DELETE SET NULL ON UPDATE NO ACTION`,
    );
    await queryRunner.query(
      `ALTER TABLE "agent_runs" ADD CONSTRAINT "fk_agent_runs_workflow" FOREIGN KEY ("workflow_id") REFERENCES "workflows"("id") ON DELETE CASCADE ON UPDATE NO ACTION`,
    );
    await queryRunner.query(
      `ALTER TABLE "trigger_attempts" ADD CONSTRAINT "fk_trigger_attempts_workflow" FOREIGN KEY ("workflow_id") REFERENCES "workflows"("id") ON DELETE CASCADE ON UPDATE NO ACTION`,
    );
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "trigger_attempts" DROP CONSTRAINT "fk_trigger_attempts_workflow"`);
    await queryRunner.query(`ALTER TABLE "agent_runs" DROP CONSTRAINT "fk_agent_runs_workflow"`);
    await queryRunner.query(`ALTER TABLE "webhook_events" DROP CONSTRAINT "fk_webhook_events_workflow"`);
    await queryRunner.query(`DROP TABLE "job_leases"`);
    await queryRunner.query(`DROP INDEX "public"."uq_trigger_attempts_workflow_attempt"`);
    await queryRunner.query(`DROP TABLE "trigger_attempts"`);
    await queryRunner.query(`DROP TABLE "agent_runs"`);
    await queryRunner.query(`DROP INDEX "public"."uq_webhook_events_sequence"`);
    await queryRunner.query(`DROP INDEX "public"."uq_webhook_events_idempotency_key"`);
    await queryRunner.query(`DROP INDEX "public"."idx_webhook_events_processing"`);
    await queryRunner.query(`DROP INDEX "public"."idx_webhook_events_unmatched"`);
    await queryRunner.query(`DROP INDEX "public"."idx_webhook_events_sync"`);
    await queryRunner.query(`DROP INDEX "public"."idx_webhook_events_workflow_ref"`);
    await queryRunner.query(`DROP INDEX "public"."idx_webhook_events_type"`);
    await queryRunner.query(`DROP INDEX "public"."idx_webhook_events_status"`);
    await queryRunner.query(`DROP INDEX "public"."idx_webhook_events_agent"`);
    await queryRunner.query(`DROP INDEX "public"."idx_webhook_events_correlation"`);
    await queryRunner.query(`DROP INDEX "public"."idx_webhook_events_received"`);
    await queryRunner.query(`DROP TABLE "webhook_events"`);
    await queryRunner.query(`DROP INDEX "public"."idx_workflows_created"`);
    await queryRunner.query(`DROP INDEX "public"."idx_workflows_status_created"`);
    await queryRunner.query(`DROP INDEX "public"."idx_workflows_active_key"`);
    await queryRunner.query(`DROP INDEX "public"."idx_workflows_due"`);
    await queryRunner.query(`DROP INDEX "public"."uq_workflows_opal_workflow_id"`);
    await queryRunner.query(`DROP TABLE "workflows"`);
    await queryRunner.query(`DROP TABLE "rejected_deliveries"`);
    await queryRunner.query(`DROP TABLE "idempotency_keys"`);
    await queryRunner.query(`DROP INDEX "public"."idx_audit_log_action_time"`);
    await queryRunner.query(`DROP TABLE "audit_log"`);
  }
}
