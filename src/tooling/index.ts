/**
 * `idb-evolve/tooling`: development-time tools that app bundles never need. `describePlan` prints a plan as
 * Markdown for review; `adoptDatabase` and `adoptSnapshot` write the baseline plan of a database another library
 * made (the `idb-evolve-adopt` CLI runs the latter); the schema history records each released version in a committed JSON file and checks that
 * released versions never change afterwards (the `idb-evolve-history` CLI runs these; `runSchemaHistoryCommand` is
 * that CLI with its file access injected).
 *
 * @example
 * ```ts
 * import { checkSchemaHistory, formatHistoryDifferences } from 'idb-evolve/tooling'
 *
 * const result = checkSchemaHistory(plan, files)
 * if (!result.ok) throw new Error(formatHistoryDifferences(result.differences))
 * ```
 *
 * @module
 */
export { describePlan } from './describe-plan.js';
export { adoptDatabase, adoptSnapshot, baselinePlan } from './adopt.js';
export type { AdoptedDatabase, AdoptedLibrary, AdoptOptions } from './adopt.js';
export { SNAPSHOT_FORMAT, SNAPSHOT_FORMAT_VERSION } from '../snapshot/format.js';
export type { SnapshotHeader, SnapshotStoreHeader } from '../snapshot/format.js';
export {
  SCHEMA_HISTORY_FORMAT,
  SCHEMA_HISTORY_FORMAT_VERSION,
  checkSchemaHistory,
  formatHistoryDifferences,
  formatHistoryEntry,
  historyFileName,
  schemaHistory,
  schemaHistoryFiles,
  stepFingerprint,
} from './schema-history.js';
export type {
  HistoryDifference,
  HistoryDifferenceCode,
  HistoryEntry,
  HistoryFiles,
  HistoryIndex,
  HistoryStep,
  HistoryStore,
  SchemaHistoryCheck,
} from './schema-history.js';
export { runAdoptCommand, runSchemaHistoryCommand } from '../cli/index.js';
export type { AdoptCommandIo, SchemaHistoryCommandIo } from '../cli/index.js';
