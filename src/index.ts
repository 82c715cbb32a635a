export { definePlan } from './plan.js';
export type { Plan, PlanDefinition, PlannedVersion, VersionDefinition } from './plan.js';
export type {
  DatabaseLayout,
  IndexDeclaration,
  IndexLayout,
  KeyPath,
  NormalizedLayout,
  NormalizedStore,
  StoreLayout,
} from './layout.js';
export { dryRun, installedVersion, openDatabase } from './open-database.js';
export type { BlockedInfo, OpenOptions, OpenResult, VersionChangeInfo } from './open-database.js';
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
export { IdbEvolveError, OpenError, PlanError, UpgradeError, isIdbEvolveError } from './errors.js';
export type {
  ErrorCode,
  ErrorContext,
  LayoutDifference,
  OpenErrorCode,
  OpenErrorContext,
  PlanErrorCode,
  UpgradeErrorCode,
  UpgradeErrorContext,
  ValidationIssue,
} from './errors.js';
export type { StandardSchemaV1, StandardSchemaV1Issue, StandardSchemaV1Props, StandardSchemaV1Result } from './standard-schema.js';
