export { definePlan } from './plan.js';
export type { DownTransform, Plan, PlanDefinition, PlannedVersion, VersionDefinition } from './plan.js';
export type {
  DatabaseLayout,
  IndexDeclaration,
  IndexLayout,
  KeyPath,
  NormalizedLayout,
  NormalizedStore,
  StoreLayout,
} from './layout.js';
export { dryRun, openDatabase } from './open-database.js';
export type { BlockedInfo, DryRunOptions, FailedUpgradeInfo, OpenOptions, OpenResult, UpgradeHooks, UpgradeInfo, VersionChangeInfo } from './open-database.js';
export { snapshotPolicy } from './snapshot-policy.js';
export type { DowngradeInfo, PolicyRestoreOptions, SnapshotFailurePolicy, SnapshotPolicy, SnapshotPolicyOptions, TakenSnapshot } from './snapshot-policy.js';
export { HISTORY_DATABASE, migrationHistory } from './history.js';
export type { MigrationRecord } from './history.js';
export { installedVersion } from './environment.js';
export type { IndexedDBOptions } from './environment.js';
export {
  deleteSnapshot,
  exportSnapshot,
  importSnapshot,
  listSnapshots,
  pruneSnapshots,
  snapshotDatabase,
  verifySnapshot,
} from './snapshots.js';
export type { ListSnapshotsOptions, SnapshotDatabaseOptions, SnapshotStorageOption } from './snapshots.js';
export { restoreSnapshot } from './restore.js';
export type { RestoreOptions, RestoreProgress, RestoreReport } from './restore.js';
export { memorySnapshotStorage, opfsSnapshotStorage } from './snapshot-storage.js';
export type { OpfsSnapshotStorageOptions, SnapshotSink, SnapshotStorage } from './snapshot-storage.js';
export { SNAPSHOT_FORMAT, SNAPSHOT_FORMAT_VERSION } from './snapshot-format.js';
export type { SnapshotHeader, SnapshotInfo, SnapshotReason, SnapshotStoreHeader } from './snapshot-format.js';
export type { StepReport, UpgradeProgress, UpgradeReport, VersionReport } from './upgrade.js';
export { remove, unchanged } from './step-store.js';
export type {
  RebuildStoreStructure,
  RecordInfo,
  RecordVisitor,
  RenameStoreStructure,
  Step,
  StepContext,
  StepStore,
  VisitResult,
  WalkOptions,
  WalkResult,
} from './step-store.js';
export { convertField, copyStore, defaultValue, dropField, rebuildStore, renameField, renameStore, updateRecords } from './steps.js';
export type { ConvertFieldOptions, RenameFieldOptions, StepOptions, WalkStepOptions } from './steps.js';
export { IdbEvolveError, OpenError, PlanError, SnapshotError, UpgradeError, isIdbEvolveError } from './errors.js';
export type {
  ErrorCode,
  ErrorContext,
  LayoutDifference,
  OpenErrorCode,
  OpenErrorContext,
  PlanErrorCode,
  SnapshotErrorCode,
  TestingErrorCode,
  SnapshotErrorContext,
  UpgradeErrorCode,
  UpgradeErrorContext,
  ValidationIssue,
} from './errors.js';
export type { StandardSchemaV1, StandardSchemaV1Issue, StandardSchemaV1Props, StandardSchemaV1Result } from './standard-schema.js';
export { describePlan } from './describe-plan.js';
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
