import type { MigrationInterface, QueryRunner } from 'typeorm';

/** The heartbeat row that measures a read replica's lag (written on the primary, read on the replica). */
export class ReplicaHeartbeat1796199000000 implements MigrationInterface {
  name = 'ReplicaHeartbeat1796199000000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `CREATE TABLE "replica_heartbeat" ("id" integer NOT NULL, "beat_at" TIMESTAMP WITH TIME ZONE NOT NULL, CONSTRAINT "PK_b89f5889408a1ee1154a8e4dc27" PRIMARY KEY ("id"))`,
    );
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE "replica_heartbeat"`);
  }
}
