export { definePlan } from './plan/define-plan.js';
export type {
  AlternativeLayout,
  DownTransform,
  Plan,
  PlanDefinition,
  PlannedAlternative,
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
export type { DryRunOptions, OpenOptions, OpenResult } from './upgrade/open-database.js';
export type { VersionChangeInfo } from './upgrade/version-change.js';
export type { InstalledLayout } from './upgrade/drift.js';
export type { ValidationScope } from './upgrade/validation.js';
export type { UpgradeElsewhere } from './idb/wait.js';
export type { Backup, FailedUpgradeInfo, UpgradeHooks, UpgradeInfo } from './upgrade/lifecycle.js';
export type { Progress, ProgressCallback, ProgressPhase } from './progress.js';
export { snapshotPolicy } from './snapshot/policy.js';
export type {
  DowngradeInfo,
  PolicyRestoreOptions,
  SnapshotFailurePolicy,
  SnapshotPolicy,
  SnapshotPolicyOptions,
  TakenSnapshot,
} from './snapshot/policy.js';
export { readUpgradeLog, UPGRADE_LOG_DATABASE } from './upgrade/upgrade-log.js';
export type { ReadUpgradeLogOptions, UpgradeLogEntry } from './upgrade/upgrade-log.js';
export { installedVersion } from './idb/request.js';
export type { BlockedInfo, BlockedOptions, IndexedDBOptions } from './idb/request.js';
export {
  deleteSnapshot,
  exportSnapshot,
  importSnapshot,
  listSnapshots,
  pruneSnapshots,
  snapshotDatabase,
  verifySnapshot,
} from './snapshot/manage.js';
export type {
  ListSnapshotsOptions,
  PruneSnapshotsOptions,
  SnapshotDatabaseOptions,
  SnapshotStorageOption,
} from './snapshot/manage.js';
export { restoreSnapshot } from './snapshot/restore.js';
export type { RestoreOptions, RestoreReport } from './snapshot/restore.js';
export { memorySnapshotStorage } from './snapshot/storage.js';
export type { SnapshotSink, SnapshotStorage } from './snapshot/storage.js';
export { opfsSnapshotStorage } from './snapshot/opfs-storage.js';
export type { OpfsSnapshotStorageOptions, OpfsWriter } from './snapshot/opfs-storage.js';
export { indexedDBSnapshotStorage } from './snapshot/indexeddb-storage.js';
export type { IndexedDBSnapshotStorageOptions } from './snapshot/indexeddb-storage.js';
export type { SnapshotCompression } from './snapshot/compression.js';
export type { SnapshotInfo, SnapshotReason } from './snapshot/format.js';
export type { StepReport, UpgradeReport, VersionReport } from './upgrade/run-upgrade.js';
export { protectUpgrade } from './interop/protect.js';
export type {
  ForeignOpen,
  InstalledDatabase,
  Protection,
  ProtectedOpen,
  ProtectOptions,
} from './interop/protect.js';
export { ProtectedOpenError } from './interop/protect-error.js';
export type { ProtectedOpenErrorContext } from './interop/protect-error.js';
export { dexieOpen, dexieVersion } from './interop/dexie.js';
export type { DexieLike } from './interop/dexie.js';
export { localForageOpen } from './interop/localforage.js';
export type { LocalForageLike } from './interop/localforage.js';
export { POUCHDB_IDB_VERSION, pouchDBOpen } from './interop/pouchdb.js';
export type { PouchDBLike } from './interop/pouchdb.js';
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
export {
  IdbEvolveError,
  isIdbEvolveError,
  OpenError,
  OptionsError,
  PlanError,
  SnapshotError,
  UpgradeError,
} from './errors.js';
export type {
  AnyIdbEvolveError,
  ErrorCode,
  ErrorContext,
  IdbEvolveErrorName,
  IdbEvolveErrors,
  LayoutDifference,
  OpenErrorCode,
  OpenErrorContext,
  WaitedOn,
  OptionsErrorCode,
  OptionsErrorContext,
  PlanErrorCode,
  ProtectedOpenErrorCode,
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
// Held back: development-time tools (describePlan, the schema history and its CLI runner) are in
// `idb-evolve/tooling`, and the kit to test migrations is in `idb-evolve/testing`, so app bundles never see them.
