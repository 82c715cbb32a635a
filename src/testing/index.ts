/**
 * `idb-evolve/testing`: a kit to test your own migrations. Create a database at any version of a plan with fixture
 * records, migrate it, read every store back, and feed generated records through a chain of versions with
 * fast-check. Nothing here imports fast-check or fake-indexeddb: pass your `fc` module, and your IndexedDB factory
 * (the global one by default, so it works unchanged in a browser).
 *
 * @example
 * ```ts
 * import { migrateFixtures } from 'idb-evolve/testing'
 *
 * const { after, error } = await migrateFixtures(plan, { from: 1, to: 2, fixtures: { notes: [{ id: 1, name: 'a' }] } })
 * expect(error).toBeNull()
 * expect(after.stores.notes?.records).toEqual([[1, { id: 1, title: 'a' }]])
 * ```
 *
 * @module
 */
export type { Fixtures, FixtureErrorCode, FixtureErrorContext } from './fixtures.js';
export { FixtureError } from './fixtures.js';
export type {
  CreateDatabaseOptions,
  DatabaseContents,
  MigrateFixturesOptions,
  MigrateOptions,
  MigrateResult,
  MigrationOutcome,
  StoreContents,
  TestDatabase,
  TestingOptions,
} from './database.js';
export { createDatabaseAt, deleteDatabase, migrate, migrateFixtures, readAll } from './database.js';
export type {
  ArbitraryLike,
  CheckMigrationOptions,
  CheckParameters,
  FastCheckLike,
  MigrationCheckErrorContext,
  MigrationCheckSummary,
  RunDetailsLike,
} from './check-migration.js';
export { checkMigration, MigrationCheckError } from './check-migration.js';
export { assertSchemaHistory, SchemaHistoryError } from './schema-history.js';
