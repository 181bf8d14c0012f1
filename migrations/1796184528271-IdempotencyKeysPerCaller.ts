import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Idempotency keys are unique per caller: the operator key's scope (`key:<16 hex of its SHA-256>`) or `open`
 * while operator routes are open. Records written before belong to the open scope (that is what they were);
 * with operator keys configured no caller has it, so they simply expire within their 24 h.
 */
export class IdempotencyKeysPerCaller1796184528271 implements MigrationInterface {
  name = 'IdempotencyKeysPerCaller1796184528271';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "idempotency_keys" ADD "caller" text NOT NULL DEFAULT 'open'`);
    await queryRunner.query(`ALTER TABLE "idempotency_keys" ALTER COLUMN "caller" DROP DEFAULT`);
    await queryRunner.query(
      `ALTER TABLE "idempotency_keys" DROP CONSTRAINT "PK_15de2f76fa9f27ad8f330983607"`,
    );
    await queryRunner.query(
      `ALTER TABLE "idempotency_keys" ADD CONSTRAINT "PK_4137131798389017ef9a4cdb681" PRIMARY KEY ("scope", "key", "caller")`,
    );
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    // Without callers, two callers' records of one key cannot both stay: the newest is kept.
    await queryRunner.query(
      `DELETE FROM "idempotency_keys" k USING "idempotency_keys" newer
        WHERE k."scope" = newer."scope" AND k."key" = newer."key" AND k."caller" <> newer."caller"
          AND (k."created_at", k."caller") < (newer."created_at", newer."caller")`,
    );
    await queryRunner.query(
      `ALTER TABLE "idempotency_keys" DROP CONSTRAINT "PK_4137131798389017ef9a4cdb681"`,
    );
    await queryRunner.query(
      `ALTER TABLE "idempotency_keys" ADD CONSTRAINT "PK_15de2f76fa9f27ad8f330983607" PRIMARY KEY ("scope", "key")`,
    );
    await queryRunner.query(`ALTER TABLE "idempotency_keys" DROP COLUMN "caller"`);
  }
}
