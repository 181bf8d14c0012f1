import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Job leases with an expiry: the holder of a running job and until when it holds it. `last_run_at` now records
 * the start of the last completed run (it recorded the last claim), so a job whose holder crashed is due again
 * as soon as its lease expires instead of a whole interval later.
 */
export class JobLeaseExpiry1796184958072 implements MigrationInterface {
  name = 'JobLeaseExpiry1796184958072';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "job_leases" ADD "holder" text`);
    await queryRunner.query(`ALTER TABLE "job_leases" ADD "lease_expires_at" TIMESTAMP WITH TIME ZONE`);
    await queryRunner.query(`ALTER TABLE "job_leases" ADD "last_error" text`);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "job_leases" DROP COLUMN "last_error"`);
    await queryRunner.query(`ALTER TABLE "job_leases" DROP COLUMN "lease_expires_at"`);
    await queryRunner.query(`ALTER TABLE "job_leases" DROP COLUMN "holder"`);
  }
}
