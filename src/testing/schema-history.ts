import { IdbEvolveError } from '../errors.js';
import type { Plan } from '../plan/define-plan.js';
import {
  checkSchemaHistory,
  formatHistoryDifferences,
  type HistoryDifference,
  type HistoryFiles,
} from '../tooling/schema-history.js';

/** The schema history recorded for a plan does not match it; the message is the readable diff. */
export class SchemaHistoryError extends IdbEvolveError {
  override name = 'SchemaHistoryError' as const;
  declare readonly code: 'schema_history_changed';
  /** Every difference found. */
  readonly differences: readonly HistoryDifference[];
  constructor(message: string, differences: readonly HistoryDifference[]) {
    super('schema_history_changed', message);
    this.differences = differences;
  }
}

/**
 * Throws a {@link SchemaHistoryError} with a readable diff when released versions of `plan` changed since their
 * schema history files were written (see `checkSchemaHistory`). Pass the files' text by name; with Vite or Vitest
 * (Node or browser mode) `import.meta.glob` reads them.
 *
 * Step fingerprints hash source text as the runtime sees it, and transpilers print code differently: check the
 * files in the environment that wrote them. Files written by the `idb-evolve-history` CLI from compiled JavaScript
 * are best checked by the CLI; to check them here, write them from here too, with `schemaHistoryFiles(plan)`.
 *
 * @example
 * ```ts
 * const files = import.meta.glob('../schema-history/*.json', { query: '?raw', import: 'default', eager: true })
 * test('released versions are unchanged', () => assertSchemaHistory(plan, files))
 * ```
 */
export function assertSchemaHistory(plan: Plan, files: HistoryFiles): void {
  const result = checkSchemaHistory(plan, files);
  if (!result.ok) throw new SchemaHistoryError(formatHistoryDifferences(result.differences), result.differences);
}
