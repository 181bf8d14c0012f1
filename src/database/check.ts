/**
 * The body of a CHECK constraint that keeps a text column within a closed set of the vocabulary (`src/domain`),
 * e.g. `"status" IN ('pending','running')`. Entities build their constraints with it, so the database and the
 * code accept the same values; the text is what the migrations hold, so it must not change for a given list.
 */
export function oneOf(
  column: string,
  values: readonly string[],
  options: { nullable?: boolean } = {},
): string {
  const list = `"${column}" IN (${values.map((v) => `'${v.replace(/'/g, "''")}'`).join(',')})`;
  return options.nullable ? `"${column}" IS NULL OR ${list}` : list;
}
