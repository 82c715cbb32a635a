export { definePlan } from './plan/define-plan.js';
export type {
  DownTransform,
  Plan,
  PlanDefinition,
  PlannedVersion,
  TypedPlanDefinition,
  VersionDefinition,
  VersionInputs,
  VersionStep,
} from './plan/define-plan.js';
export type {
  FieldPath,
  PlanRecord,
  PlanSchema,
  PlanStoreName,
  StoreName,
  StoreRecords,
  UntypedRecord,
  UntypedRecords,
} from './plan/schema-types.js';
export type {
  DatabaseLayout,
  IndexDeclaration,
  IndexLayout,
  KeyPath,
  NormalizedLayout,
  NormalizedStore,
  StoreLayout,
} from './plan/layout.js';
export { dryRun, openDatabase } from './upgrade/open-database.js';
export type {
  BlockedInfo,
  DryRunOptions,
  FailedUpgradeInfo,
  OpenOptions,
  OpenResult,
  UpgradeHooks,
  UpgradeInfo,
  VersionChangeInfo,
} from './upgrade/open-database.js';
export { snapshotPolicy } from './snapshot/policy.js';
export type {
  DowngradeInfo,
  PolicyRestoreOptions,
  SnapshotFailurePolicy,
  SnapshotPolicy,
  SnapshotPolicyOptions,
  TakenSnapshot,
} from './snapshot/policy.js';
export { HISTORY_DATABASE, migrationHistory } from './upgrade/upgrade-log.js';
export type { MigrationRecord } from './upgrade/upgrade-log.js';
export { installedVersion } from './idb/environment.js';
export type { IndexedDBOptions } from './idb/environment.js';
export {
  deleteSnapshot,
  exportSnapshot,
  importSnapshot,
  listSnapshots,
  pruneSnapshots,
  snapshotDatabase,
  verifySnapshot,
} from './snapshot/manage.js';
export type { ListSnapshotsOptions, SnapshotDatabaseOptions, SnapshotStorageOption } from './snapshot/manage.js';
export { restoreSnapshot } from './snapshot/restore.js';
export type { RestoreOptions, RestoreProgress, RestoreReport } from './snapshot/restore.js';
export { memorySnapshotStorage, opfsSnapshotStorage } from './snapshot/storage.js';
export type { OpfsSnapshotStorageOptions, SnapshotSink, SnapshotStorage } from './snapshot/storage.js';
export { SNAPSHOT_FORMAT, SNAPSHOT_FORMAT_VERSION } from './snapshot/format.js';
export type { SnapshotHeader, SnapshotInfo, SnapshotReason, SnapshotStoreHeader } from './snapshot/format.js';
export type { StepReport, UpgradeProgress, UpgradeReport, VersionReport } from './upgrade/run-upgrade.js';
export { remove, unchanged } from './upgrade/step-store.js';
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
  Writable,
} from './upgrade/step-store.js';
export {
  convertField,
  copyStore,
  defaultValue,
  dropField,
  rebuildStore,
  renameField,
  renameStore,
  updateRecords,
} from './upgrade/steps.js';
export type {
  ConvertFieldOptions,
  HelperStep,
  RecordTransform,
  RenameFieldOptions,
  StepOptions,
  StoreArgument,
  WalkStepOptions,
} from './upgrade/steps.js';
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
export type {
  StandardSchemaV1,
  StandardSchemaV1Issue,
  StandardSchemaV1Props,
  StandardSchemaV1Result,
} from './plan/standard-schema.js';
export { describePlan } from './tooling/describe-plan.js';
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
} from './tooling/schema-history.js';
export type {
  HistoryDifference,
  HistoryDifferenceCode,
  HistoryEntry,
  HistoryFiles,
  HistoryIndex,
  HistoryStep,
  HistoryStore,
  SchemaHistoryCheck,
} from './tooling/schema-history.js';
