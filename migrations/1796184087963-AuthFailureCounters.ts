import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Failed operator authentications become per-minute counters per route and client address (`auth_failures`,
 * pruned with the event retention) instead of one `audit_log` row per attempt, which a flood of bad keys grew
 * without bound. The existing per-attempt rows are folded into counters (so the alert's window keeps its
 * history) and removed; `audit_log` keeps operator actions only.
 */
export class AuthFailureCounters1796184087963 implements MigrationInterface {
  name = 'AuthFailureCounters1796184087963';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `CREATE TABLE "auth_failures" ("bucket" TIMESTAMP WITH TIME ZONE NOT NULL, "route" text NOT NULL, "client_ip" text NOT NULL, "count" integer NOT NULL DEFAULT '1', "first_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), "last_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), "last_reason" text NOT NULL, "last_method" text, "last_key_fingerprint" text, "last_correlation_id" text, CONSTRAINT "chk_auth_failures_reason" CHECK ("last_reason" IN ('missing_key','invalid_key')), CONSTRAINT "PK_d980f4c8e7a6655f266573170b8" PRIMARY KEY ("bucket", "route", "client_ip"))`,
    );
    await queryRunner.query(
      `INSERT INTO "auth_failures" ("bucket", "route", "client_ip", "count", "first_at", "last_at", "last_reason",
                                    "last_method", "last_key_fingerprint", "last_correlation_id")
       SELECT date_trunc('minute', "occurred_at"), left(coalesce("route", 'unknown'), 200),
              left(coalesce("client_ip", 'unknown'), 64), count(*)::int, min("occurred_at"), max("occurred_at"),
              (array_agg(CASE WHEN "details"->>'reason' = 'missing_key' THEN 'missing_key' ELSE 'invalid_key' END
                         ORDER BY "occurred_at" DESC))[1],
              (array_agg("method" ORDER BY "occurred_at" DESC))[1],
              (array_agg("details"->>'presented_fingerprint' ORDER BY "occurred_at" DESC))[1],
              (array_agg("correlation_id" ORDER BY "occurred_at" DESC))[1]
         FROM "audit_log" WHERE "action" = 'auth_failure'
        GROUP BY 1, 2, 3`,
    );
    await queryRunner.query(`DELETE FROM "audit_log" WHERE "action" = 'auth_failure'`);
    await queryRunner.query(`ALTER TABLE "audit_log" DROP CONSTRAINT "chk_audit_log_action"`);
    await queryRunner.query(
      `ALTER TABLE "audit_log" ADD CONSTRAINT "chk_audit_log_action" CHECK ("action" IN ('replay','cleanup','config_test'))`,
    );
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "audit_log" DROP CONSTRAINT "chk_audit_log_action"`);
    await queryRunner.query(
      `ALTER TABLE "audit_log" ADD CONSTRAINT "chk_audit_log_action" CHECK ("action" IN ('auth_failure','replay','cleanup','config_test'))`,
    );
    // One audit row per counter (not per attempt: those are gone), its count in the details.
    await queryRunner.query(
      `INSERT INTO "audit_log" ("occurred_at", "action", "client_ip", "method", "route", "correlation_id", "details")
       SELECT "last_at", 'auth_failure', "client_ip", "last_method", "route", "last_correlation_id",
              jsonb_build_object('reason', "last_reason", 'presented_fingerprint', "last_key_fingerprint",
                                 'count', "count")
         FROM "auth_failures"`,
    );
    await queryRunner.query(`DROP TABLE "auth_failures"`);
  }
}
