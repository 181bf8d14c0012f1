import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * `workflows.version`: grows with every stored change of a workflow (the write path bumps it in the statement
 * that stores the change), so that live progress streams can say which state a client has seen. A constant
 * default needs no table rewrite.
 */
export class WorkflowVersion1796183824404 implements MigrationInterface {
  name = 'WorkflowVersion1796183824404';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "workflows" ADD "version" integer NOT NULL DEFAULT '1'`);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "workflows" DROP COLUMN "version"`);
  }
}
