/**
 * The commands the bins run (built to dist/cli.js, not a package export): `idb-evolve-history` and
 * `idb-evolve-adopt`, each with its file access injected.
 *
 * @module
 */
export { runSchemaHistoryCommand } from './history.js';
export type { SchemaHistoryCommandIo } from './history.js';
export { runAdoptCommand } from './adopt.js';
export type { AdoptCommandIo } from './adopt.js';
