/**
 * Schema history: each released version's layout, steps and validators written to a committed JSON file, and a
 * check that released versions never change afterwards. A released version is one whose file exists.
 *
 * @module
 */
import type { KeyPath, NormalizedLayout } from '../plan/layout.js';
import type { Plan, PlannedVersion } from '../plan/define-plan.js';
import type { Step } from '../upgrade/step-store.js';

/** The `format` field of every schema history file. */
export const SCHEMA_HISTORY_FORMAT = 'idb-evolve-schema-history';
/** The `formatVersion` field this release writes and reads. */
export const SCHEMA_HISTORY_FORMAT_VERSION = 1;

/** An index as a history file records it. */
export interface HistoryIndex {
  readonly keyPath: KeyPath;
  readonly unique: boolean;
  readonly multiEntry: boolean;
}

/** A store as a history file records it; indexes by name, in name order. */
export interface HistoryStore {
  readonly keyPath: KeyPath | null;
  readonly autoIncrement: boolean;
  readonly indexes: Readonly<Record<string, HistoryIndex>>;
}

/** A step as a history file records it. */
export interface HistoryStep {
  readonly name: string;
  readonly stores: readonly string[];
  /** Set for `renameStore` and `rebuildStore` steps. */
  readonly structure?:
    | { readonly kind: 'rename-store'; readonly from: string; readonly to: string }
    | { readonly kind: 'rebuild-store'; readonly store: string };
  /** See {@link stepFingerprint}. */
  readonly fingerprint: string;
}

/** The content of one schema history file: one version of a plan. */
export interface HistoryEntry {
  readonly format: typeof SCHEMA_HISTORY_FORMAT;
  readonly formatVersion: typeof SCHEMA_HISTORY_FORMAT_VERSION;
  readonly version: number;
  /** Stores in name order. */
  readonly layout: Readonly<Record<string, HistoryStore>>;
  /** Steps in the order they run. */
  readonly steps: readonly HistoryStep[];
  /** Stores with a validator, in name order, with the validator's Standard Schema vendor (`zod`, `valibot`, ...). */
  readonly validators: Readonly<Record<string, { readonly vendor: string }>>;
}

/** Schema history files' text by file name (`v0003.json`); paths are fine too, only the last segment counts. */
export type HistoryFiles = Readonly<Record<string, string>>;

/** Codes of {@link HistoryDifference}. */
export type HistoryDifferenceCode =
  | 'version_removed'
  | 'version_inserted'
  | 'layout_changed'
  | 'steps_changed'
  | 'validators_changed'
  | 'invalid_file';

/** One way the plan departs from its recorded history. */
export interface HistoryDifference {
  readonly code: HistoryDifferenceCode;
  /** The version concerned (for `invalid_file`, the one the file's name says). */
  readonly version: number;
  /** The history file concerned (for `version_inserted`, the file the version would get). */
  readonly file: string;
  /** Where in the file, e.g. `layout.notes.indexes.byTitle.unique` or `steps[1].fingerprint`; empty for whole versions. */
  readonly path: string;
  /** What the file says (undefined: absent). */
  readonly recorded: unknown;
  /** What the plan says (undefined: absent). */
  readonly planned: unknown;
  /** One readable line. */
  readonly message: string;
}

/** What {@link checkSchemaHistory} found. */
export interface SchemaHistoryCheck {
  /** True when no released version changed. */
  readonly ok: boolean;
  readonly differences: readonly HistoryDifference[];
  /** Versions that have a history file, in order. */
  readonly recorded: readonly number[];
  /** Versions of the plan after the last recorded one: not released yet, free to change. */
  readonly unrecorded: readonly number[];
}

const FILE_NAME = /^v(\d+)\.json$/;

/** Whether `name` is a history file's (`v0003.json`). Internal: for src/cli/history.ts. */
export function isHistoryFileName(name: string): boolean {
  return FILE_NAME.test(name);
}

/** The history file name of a version: `v0003.json` (more digits past 9999). */
export function historyFileName(version: number): string {
  return `v${String(version).padStart(4, '0')}.json`;
}

/** FNV-1a, 64 bits, over the UTF-8 bytes of `text`: tiny, synchronous and the same in every engine. */
function fnv1a64(text: string): string {
  let hash = 0xcbf29ce484222325n;
  for (const byte of new TextEncoder().encode(text)) {
    hash = ((hash ^ BigInt(byte)) * 0x100000001b3n) & 0xffffffffffffffffn;
  }
  return hash.toString(16).padStart(16, '0');
}

/**
 * A stable hash of what a step does: its name, its stores, its structure (renamed or rebuilt store) and the source
 * text of its `run` function and of a rebuild's transform, as `Function.prototype.toString` gives them.
 *
 * Any change to that text changes the fingerprint, formatting and comments included. That is deliberate: telling a
 * harmless edit from a behaviour change needs a human, and a false alarm costs one review, while a released
 * migration changed without anyone noticing corrupts the data of users who upgrade later. The text is what the
 * runtime sees, so write and check the history from the same build of the plan (the same transpiler and options).
 *
 * It cannot see code a step reaches through closures: the visitor of `updateRecords`, the converter of
 * `convertField` or the transform of `copyStore` live outside `run`'s text, so for those steps the fingerprint
 * covers the name (which the helpers derive from their arguments), the stores and the helper's own code only.
 */
export function stepFingerprint(step: Step): string {
  const structure = step.structure;
  const parts = [
    step.name,
    [...step.stores],
    structure === undefined
      ? null
      : structure.kind === 'rename-store'
        ? [structure.kind, structure.from, structure.to]
        : [
            structure.kind,
            structure.store,
            structure.transform === undefined ? null : Function.prototype.toString.call(structure.transform),
          ],
    Function.prototype.toString.call(step.run),
    // Helpers' arguments and functions, which `run` (a closure over them) does not show.
    ...(step.source === undefined ? [] : [step.source]),
  ];
  return `fnv1a64:${fnv1a64(JSON.stringify(parts))}`;
}

const byName = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

function copyKeyPath(keyPath: KeyPath): KeyPath {
  return typeof keyPath === 'string' ? keyPath : [...keyPath];
}

function historyLayout(layout: NormalizedLayout): Record<string, HistoryStore> {
  const stores: Record<string, HistoryStore> = {};
  for (const name of Object.keys(layout).sort(byName)) {
    const store = layout[name]!;
    const indexes: Record<string, HistoryIndex> = {};
    for (const indexName of Object.keys(store.indexes).sort(byName)) {
      const index = store.indexes[indexName]!;
      indexes[indexName] = { keyPath: copyKeyPath(index.keyPath), unique: index.unique, multiEntry: index.multiEntry };
    }
    stores[name] = {
      keyPath: store.keyPath === null ? null : copyKeyPath(store.keyPath),
      autoIncrement: store.autoIncrement,
      indexes,
    };
  }
  return stores;
}

function historyStep(step: Step): HistoryStep {
  const structure = step.structure;
  return {
    name: step.name,
    stores: [...step.stores],
    ...(structure === undefined
      ? {}
      : {
          structure:
            structure.kind === 'rename-store'
              ? { kind: structure.kind, from: structure.from, to: structure.to }
              : { kind: structure.kind, store: structure.store },
        }),
    fingerprint: stepFingerprint(step),
  };
}

function historyEntry(version: PlannedVersion): HistoryEntry {
  const validators: Record<string, { vendor: string }> = {};
  for (const store of Object.keys(version.validators).sort(byName)) {
    validators[store] = { vendor: version.validators[store]!['~standard'].vendor };
  }
  return {
    format: SCHEMA_HISTORY_FORMAT,
    formatVersion: SCHEMA_HISTORY_FORMAT_VERSION,
    version: version.version,
    layout: historyLayout(version.layout),
    steps: version.steps.map(historyStep),
    validators,
  };
}

/** One {@link HistoryEntry} per version of the plan, in order: what the history files hold. */
export function schemaHistory(plan: Plan): HistoryEntry[] {
  return plan.versions.map(historyEntry);
}

/** The text of a history file: the entry as two-space-indented JSON and a final newline. */
export function formatHistoryEntry(entry: HistoryEntry): string {
  return `${JSON.stringify(entry, null, 2)}\n`;
}

/** Every history file of the plan, text by file name: what `idb-evolve-history write` writes. */
export function schemaHistoryFiles(plan: Plan): Record<string, string> {
  return Object.fromEntries(
    schemaHistory(plan).map((entry) => [historyFileName(entry.version), formatHistoryEntry(entry)]),
  );
}

function baseName(path: string): string {
  return path.slice(Math.max(path.lastIndexOf('/'), path.lastIndexOf('\\')) + 1);
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Parses a history file; when it is not one, what is wrong with it (a predicate for the file name). */
function parseEntry(text: string, fileVersion: number): HistoryEntry | string {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    return `is not valid JSON (${(error as Error).message})`;
  }
  if (!isObject(parsed) || parsed.format !== SCHEMA_HISTORY_FORMAT)
    return `is not a schema history file (no "format": "${SCHEMA_HISTORY_FORMAT}")`;
  if (parsed.formatVersion !== SCHEMA_HISTORY_FORMAT_VERSION) {
    return `was written in format version ${JSON.stringify(parsed.formatVersion)}, which this release does not read (it reads ${SCHEMA_HISTORY_FORMAT_VERSION})`;
  }
  if (parsed.version !== fileVersion)
    return `records version ${JSON.stringify(parsed.version)}, but its name says ${fileVersion}`;
  if (!isObject(parsed.layout) || !Array.isArray(parsed.steps) || !isObject(parsed.validators)) {
    return 'lacks "layout", "steps" or "validators"';
  }
  if (!parsed.steps.every((step) => isObject(step) && typeof step.name === 'string'))
    return 'has a step without a name';
  return parsed as unknown as HistoryEntry;
}

/**
 * Whether a history file's text holds `entry` as data (key order and formatting ignored), so that the CLI leaves a
 * file reformatted by a formatter alone. Internal: for src/cli/history.ts, not exported by `idb-evolve/tooling`.
 */
export function historyFileMatches(text: string, entry: HistoryEntry): boolean {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return false;
  }
  return sameJson(parsed, entry);
}

/** Same JSON value (object key order ignored). */
function sameJson(a: unknown, b: unknown): boolean {
  if (Array.isArray(a) || Array.isArray(b)) {
    return Array.isArray(a) && Array.isArray(b) && a.length === b.length && a.every((item, i) => sameJson(item, b[i]));
  }
  if (isObject(a) && isObject(b)) {
    const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
    return [...keys].every((key) => sameJson(a[key], b[key]));
  }
  return a === b;
}

interface JsonChange {
  readonly path: readonly string[];
  readonly recorded: unknown;
  readonly planned: unknown;
}

/** Differences between two JSON values, object by object; arrays and scalars compare whole. */
function diffJson(recorded: unknown, planned: unknown, path: readonly string[] = []): JsonChange[] {
  if (isObject(recorded) && isObject(planned)) {
    const keys = [...new Set([...Object.keys(recorded), ...Object.keys(planned)])].sort(byName);
    return keys.flatMap((key) => diffJson(recorded[key], planned[key], [...path, key]));
  }
  return sameJson(recorded, planned) ? [] : [{ path, recorded, planned }];
}

const show = (value: unknown): string => JSON.stringify(value) ?? 'absent';

function layoutMessage({ path, recorded, planned }: JsonChange): string {
  const [store, section, index, property] = path;
  const change = (what: string): string =>
    recorded === undefined
      ? `${what} added`
      : planned === undefined
        ? `${what} removed`
        : `${what}: recorded ${show(recorded)}, plan ${show(planned)}`;
  if (section === undefined) return change(`store "${store}"`);
  if (section !== 'indexes' || index === undefined) return change(`store "${store}" ${section}`);
  if (property === undefined) return change(`index "${store}.${index}"`);
  return change(`index "${store}.${index}" ${property}`);
}

function stepLabel(step: HistoryStep, position: number): string {
  return `step ${position + 1} "${step.name}"`;
}

function stepChanges(
  recorded: readonly HistoryStep[],
  planned: readonly HistoryStep[],
): { path: string; recorded: unknown; planned: unknown; message: string }[] {
  const changes: { path: string; recorded: unknown; planned: unknown; message: string }[] = [];
  for (let i = 0; i < Math.max(recorded.length, planned.length); i++) {
    const was = recorded[i];
    const now = planned[i];
    const path = `steps[${i}]`;
    if (was === undefined) {
      changes.push({ path, recorded: undefined, planned: now, message: `${stepLabel(now!, i)} added` });
    } else if (now === undefined) {
      changes.push({ path, recorded: was, planned: undefined, message: `${stepLabel(was, i)} removed` });
    } else if (was.name !== now.name) {
      changes.push({
        path: `${path}.name`,
        recorded: was.name,
        planned: now.name,
        message: `step ${i + 1}: recorded "${was.name}", plan "${now.name}"`,
      });
    } else {
      for (const change of diffJson(was, now)) {
        const field = change.path.join('.');
        const message =
          field === 'fingerprint'
            ? `${stepLabel(now, i)}: code changed: recorded fingerprint ${String(change.recorded)}, plan ${String(change.planned)}`
            : `${stepLabel(now, i)} ${field}: recorded ${show(change.recorded)}, plan ${show(change.planned)}`;
        changes.push({ path: `${path}.${field}`, recorded: change.recorded, planned: change.planned, message });
      }
    }
  }
  return changes;
}

/**
 * Compares a plan with its recorded schema history. A released version (one with a file) must keep its layout,
 * its steps (names, stores, structure, {@link stepFingerprint}) and its validators' presence and vendor; it must
 * stay in the plan; and no new version may come before it. Versions after the last recorded one are free.
 * Pass the files' text by name (files not named like `v0003.json` are ignored).
 */
export function checkSchemaHistory(plan: Plan, files: HistoryFiles): SchemaHistoryCheck {
  const differences: HistoryDifference[] = [];
  const recorded = readRecorded(files, differences);
  const versions = [...recorded.keys()].sort((a, b) => a - b);
  const lastReleased = versions[versions.length - 1] ?? 0;
  for (const version of versions) {
    const { file, entry } = recorded.get(version)!;
    differences.push(...versionDifferences(plan, version, file, entry));
  }
  for (const { version } of plan.versions) {
    if (version < lastReleased && !recorded.has(version)) {
      differences.push({
        code: 'version_inserted',
        version,
        file: historyFileName(version),
        path: '',
        recorded: undefined,
        planned: version,
        message: `version ${version} is new but comes before released version ${lastReleased}: add new versions after the last released one`,
      });
    }
  }
  differences.sort((a, b) => a.version - b.version);
  return {
    ok: differences.length === 0,
    differences,
    recorded: versions,
    unrecorded: plan.versions.map((v) => v.version).filter((v) => v > lastReleased),
  };
}

/** The recorded entries by version; files that cannot be read as one add an `invalid_file` difference. */
function readRecorded(
  files: HistoryFiles,
  differences: HistoryDifference[],
): Map<number, { file: string; entry: HistoryEntry }> {
  const recorded = new Map<number, { file: string; entry: HistoryEntry }>();
  const sources = Object.entries(files)
    .map(([path, text]) => ({ file: baseName(path), text }))
    .filter(({ file }) => FILE_NAME.test(file))
    .sort((a, b) => byName(a.file, b.file));
  for (const { file, text } of sources) {
    const version = Number(FILE_NAME.exec(file)![1]);
    const entry = parseEntry(text, version);
    const problem =
      typeof entry === 'string'
        ? entry
        : recorded.has(version)
          ? `records version ${version}, like ${recorded.get(version)!.file}`
          : undefined;
    if (problem === undefined) {
      recorded.set(version, { file, entry: entry as HistoryEntry });
      continue;
    }
    differences.push({
      code: 'invalid_file',
      version,
      file,
      path: '',
      recorded: undefined,
      planned: undefined,
      message: `${file} ${problem}`,
    });
  }
  return recorded;
}

/** How a released version's recorded entry differs from the plan's version now. */
function versionDifferences(plan: Plan, version: number, file: string, entry: HistoryEntry): HistoryDifference[] {
  const planned = plan.get(version);
  if (planned === undefined) {
    return [
      {
        code: 'version_removed',
        version,
        file,
        path: '',
        recorded: entry,
        planned: undefined,
        message: `version ${version} was released but is no longer in the plan`,
      },
    ];
  }
  const now = historyEntry(planned);
  const differences: HistoryDifference[] = diffJson(entry.layout, now.layout).map((change) => ({
    code: 'layout_changed',
    version,
    file,
    path: ['layout', ...change.path].join('.'),
    recorded: change.recorded,
    planned: change.planned,
    message: layoutMessage(change),
  }));
  for (const change of stepChanges(entry.steps, now.steps)) {
    differences.push({ code: 'steps_changed', version, file, ...change });
  }
  for (const change of diffJson(entry.validators, now.validators)) {
    const what = `validator of store "${change.path[0]}"`;
    const message =
      change.recorded === undefined
        ? `${what} added`
        : change.planned === undefined
          ? `${what} removed`
          : `${what}: recorded ${show(change.recorded)}, plan ${show(change.planned)}`;
    differences.push({
      code: 'validators_changed',
      version,
      file,
      path: ['validators', ...change.path].join('.'),
      recorded: change.recorded,
      planned: change.planned,
      message,
    });
  }
  return differences;
}

/**
 * The differences as readable text: grouped by version, one line each, with what to do about them. Empty when
 * there are none.
 */
export function formatHistoryDifferences(differences: readonly HistoryDifference[]): string {
  if (differences.length === 0) return '';
  const lines = [
    `Released versions changed since their schema history was written (${differences.length} difference${differences.length === 1 ? '' : 's'}):`,
  ];
  let group: string | undefined;
  for (const difference of differences) {
    const heading = `version ${difference.version} (${difference.file})`;
    if (heading !== group) {
      lines.push(heading);
      group = heading;
    }
    lines.push(`  - ${difference.message}`);
  }
  lines.push(
    'A released version must not change: users who already upgraded past it would not get the change, and users who',
    'upgrade later would get a different database. Put the change in a new version. If it is intended (only formatting',
    'changed a fingerprint, say), rewrite the history with `idb-evolve-history write --force`.',
  );
  return lines.join('\n');
}
