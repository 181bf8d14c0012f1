import type { QueryRunner } from 'typeorm';

/**
 * Index changes for migrations on large tables (webhook_events, workflows, agent_runs) that never block writes:
 * `CREATE INDEX CONCURRENTLY` and `DROP INDEX CONCURRENTLY` take no lock that conflicts with INSERT or UPDATE.
 * PostgreSQL runs them only outside a transaction, so a migration that uses these helpers declares
 * `transaction = false` (which the data source's `migrationsTransactionMode: 'each'` allows).
 *
 * Every helper can run again after an interruption, and on a database that already has the result:
 * - a concurrent build that failed half way leaves an INVALID index behind; it is dropped and built again
 *   (IF NOT EXISTS alone would keep the broken one);
 * - `replaceIndexConcurrently` builds the new definition under a temporary name, drops the old index and renames
 *   the new one (the rename takes a lock on the index only), so queries keep an index throughout;
 * - a build may wait for long transactions and take minutes on a large table: the session's statement timeout
 *   (the pool's 30 s) is lifted for it.
 * Inside a transaction (TypeORM's `migration:revert` wraps `down()` in one) the plain statements are used.
 */
export interface IndexSpec {
  name: string;
  table: string;
  columns: string[];
  /** SQL predicate of a partial index, e.g. `"status" = 'failed'`. */
  where?: string;
}

const SCHEMA = 'public';

export async function createIndexConcurrently(runner: QueryRunner, spec: IndexSpec): Promise<void> {
  const state = await indexState(runner, spec.name);
  if (state?.valid === false) await dropIndexConcurrently(runner, spec.name);
  const columns = spec.columns.map((c) => `"${c}"`).join(', ');
  const where = spec.where ? ` WHERE ${spec.where}` : '';
  await withoutStatementTimeout(runner, () =>
    runner.query(
      `CREATE INDEX ${concurrently(runner)}IF NOT EXISTS "${spec.name}" ON "${SCHEMA}"."${spec.table}" (${columns})${where}`,
    ),
  );
}

export async function dropIndexConcurrently(runner: QueryRunner, name: string): Promise<void> {
  await withoutStatementTimeout(runner, () =>
    runner.query(`DROP INDEX ${concurrently(runner)}IF EXISTS "${SCHEMA}"."${name}"`),
  );
}

/** Gives the index `spec.name` the columns of `spec` (same predicate assumed); nothing to do when it has them. */
export async function replaceIndexConcurrently(runner: QueryRunner, spec: IndexSpec): Promise<void> {
  const current = await indexState(runner, spec.name);
  if (current?.valid && current.columns.join() === spec.columns.join()) return;
  const next = `${spec.name}_next`;
  await createIndexConcurrently(runner, { ...spec, name: next });
  await dropIndexConcurrently(runner, spec.name);
  await runner.query(`ALTER INDEX "${SCHEMA}"."${next}" RENAME TO "${spec.name}"`);
}

/** Columns and validity of an index of the schema, or null when there is none of that name. */
export async function indexState(
  runner: QueryRunner,
  name: string,
): Promise<{ valid: boolean; columns: string[] } | null> {
  const rows = (await runner.query(
    `SELECT i.indisvalid AS valid,
            array(SELECT a.attname::text FROM unnest(i.indkey) WITH ORDINALITY AS k(attnum, n)
                    JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
                   ORDER BY k.n) AS columns
       FROM pg_index i
       JOIN pg_class c ON c.oid = i.indexrelid
       JOIN pg_namespace ns ON ns.oid = c.relnamespace
      WHERE ns.nspname = $1 AND c.relname = $2`,
    [SCHEMA, name],
  )) as { valid: boolean; columns: string[] }[];
  return rows[0] ?? null;
}

function concurrently(runner: QueryRunner): string {
  return runner.isTransactionActive ? '' : 'CONCURRENTLY ';
}

async function withoutStatementTimeout(runner: QueryRunner, work: () => Promise<unknown>): Promise<void> {
  if (runner.isTransactionActive) {
    await work();
    return;
  }
  await runner.query('SET statement_timeout = 0');
  try {
    await work();
  } finally {
    // Back to the value the connection was opened with (the pool's), before the connection is reused.
    await runner.query('RESET statement_timeout');
  }
}
