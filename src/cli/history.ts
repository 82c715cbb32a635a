/**
 * The `idb-evolve-history` command: `write`, `check` or `describe` a plan's schema history, with its file access
 * injected so that it is tested without a process. The bin (bin/idb-evolve-history.mjs) imports the build of this
 * file, `dist/cli.js`, and passes Node's file system; `idb-evolve/tooling` exports it for other wrappers.
 *
 * @module
 */
import type { Plan } from '../plan/define-plan.js';
import { describePlan } from '../tooling/describe-plan.js';
import {
  checkSchemaHistory,
  formatHistoryDifferences,
  formatHistoryEntry,
  historyFileMatches,
  historyFileName,
  isHistoryFileName,
  schemaHistory,
} from '../tooling/schema-history.js';

/** File access and output for {@link runSchemaHistoryCommand}; the `idb-evolve-history` bin passes Node's. */
export interface SchemaHistoryCommandIo {
  /** Imports the plan module named on the command line and returns its exports. */
  importModule(specifier: string): Promise<Record<string, unknown>>;
  /** File names in `dir`, or undefined when it does not exist. */
  listFiles(dir: string): Promise<readonly string[] | undefined>;
  readFile(dir: string, name: string): Promise<string>;
  /** Writes a file, creating `dir` when needed. */
  writeFile(dir: string, name: string, text: string): Promise<void>;
  deleteFile(dir: string, name: string): Promise<void>;
  /** Prints a line to standard output. */
  out(text: string): void;
  /** Prints a line to standard error. */
  err(text: string): void;
}

const HELP = `Usage:
  idb-evolve-history write <plan-module> <dir> [--force]
  idb-evolve-history check <plan-module> <dir>
  idb-evolve-history describe <plan-module>

Records each version of an idb-evolve plan in <dir> (v0001.json, v0002.json, ...) and checks that released
versions (those with a file) never change: their layout, their steps' names, stores and code fingerprints, and
their validators. Commit <dir>; run "check" in CI.

  write   Writes files for versions not recorded yet. Refuses, writing nothing, when recorded versions changed,
          unless --force is given: then the history is made to match the plan (changed files are rewritten,
          files of versions no longer in the plan are deleted).
  check   Exits 1 with a readable diff when recorded versions changed, were removed or a new version was
          inserted before a recorded one. Versions after the last recorded one may change freely.
  describe  Prints the plan as Markdown: per version, the stores and indexes it adds, removes or changes,
          and its steps (for a pull request, or docs/database.md).

<plan-module> is a path to an ES module that exports the plan (the result of definePlan) as "plan" or as its
default export. It must be JavaScript Node can import (.js or .mjs): Node 20 cannot import TypeScript, so
compile the plan first. Step fingerprints hash the source text the runtime sees: write and check the history
from the same build.

Exit codes: 0 ok, 1 differences, 2 usage error.`;

function isPlan(value: unknown): value is Plan {
  const candidate = value as Partial<Plan> | null | undefined;
  return (
    typeof candidate === 'object' &&
    candidate !== null &&
    Array.isArray(candidate.versions) &&
    typeof candidate.latest === 'number' &&
    typeof candidate.get === 'function'
  );
}

async function readHistory(
  io: SchemaHistoryCommandIo,
  dir: string,
  names: readonly string[],
): Promise<Record<string, string>> {
  const files: Record<string, string> = {};
  for (const name of names.filter(isHistoryFileName).sort()) files[name] = await io.readFile(dir, name);
  return files;
}

/**
 * What the `idb-evolve-history` CLI runs, with its file access injected: `write` or `check` a plan's schema history
 * (see the CLI's help). Resolves with the exit code: 0 ok, 1 differences, 2 usage error.
 */
export async function runSchemaHistoryCommand(args: readonly string[], io: SchemaHistoryCommandIo): Promise<number> {
  if (args.length === 1 && (args[0] === '--help' || args[0] === '-h' || args[0] === 'help')) {
    io.out(HELP);
    return 0;
  }
  const positional = args.filter((arg) => !arg.startsWith('-'));
  const flags = args.filter((arg) => arg.startsWith('-'));
  const [command, specifier, dir] = positional;
  const usage = (problem: string): number => {
    io.err(`idb-evolve-history: ${problem}\n\n${HELP}`);
    return 2;
  };
  if (command !== 'write' && command !== 'check' && command !== 'describe') {
    return usage(command === undefined ? 'missing command' : `unknown command "${command}"`);
  }
  const describing = command === 'describe';
  if (specifier === undefined || positional.length > (describing ? 2 : 3) || (!describing && dir === undefined)) {
    return usage(describing ? '"describe" takes a plan module' : `"${command}" takes a plan module and a directory`);
  }
  const allowed = command === 'write' ? ['--force'] : [];
  const unknown = flags.find((flag) => !allowed.includes(flag));
  if (unknown !== undefined) return usage(`unknown option "${unknown}" for "${command}"`);

  const plan = await importPlan(io, specifier);
  if (plan === undefined) return 2;
  if (describing) {
    io.out(describePlan(plan));
    return 0;
  }
  // Checked above: write and check take one.
  try {
    return await (command === 'check' ? check : write)(io, plan, dir!, flags.includes('--force'));
  } catch (error) {
    io.err(`idb-evolve-history: ${(error as Error)?.message ?? String(error)}`);
    return 2;
  }
}

/** The plan a module exports (as `plan` or default), or undefined after telling why not. */
async function importPlan(io: SchemaHistoryCommandIo, specifier: string): Promise<Plan | undefined> {
  let exports: Record<string, unknown>;
  try {
    exports = await io.importModule(specifier);
  } catch (error) {
    const hint = /\.[cm]?tsx?$/.test(specifier)
      ? '\nNode 20 cannot import TypeScript: compile the plan module to JavaScript first.'
      : '';
    io.err(
      `idb-evolve-history: could not import the plan module "${specifier}": ${(error as Error)?.message ?? String(error)}${hint}`,
    );
    return undefined;
  }
  const plan = isPlan(exports.plan) ? exports.plan : isPlan(exports.default) ? exports.default : undefined;
  if (plan === undefined) {
    io.err(
      `idb-evolve-history: "${specifier}" exports no plan: export the result of definePlan as "plan" or as the default export`,
    );
  }
  return plan;
}

/** `check`: 0 when the recorded versions match the plan, 1 with the diff, 2 without a history directory. */
async function check(io: SchemaHistoryCommandIo, plan: Plan, directory: string): Promise<number> {
  const names = await io.listFiles(directory);
  if (names === undefined) {
    io.err(
      `idb-evolve-history: there is no schema history directory "${directory}": create it with "idb-evolve-history write"`,
    );
    return 2;
  }
  const result = checkSchemaHistory(plan, await readHistory(io, directory, names));
  if (!result.ok) {
    io.err(formatHistoryDifferences(result.differences));
    return 1;
  }
  const pending =
    result.unrecorded.length === 0
      ? ''
      : `; not recorded yet: ${result.unrecorded.join(', ')} (run "write" when releasing)`;
  io.out(
    `Schema history matches the plan: ${result.recorded.length} recorded version${result.recorded.length === 1 ? '' : 's'}${pending}.`,
  );
  return 0;
}

/** `write`: records versions not recorded yet; refuses (1) when recorded ones changed, unless `force`. */
async function write(io: SchemaHistoryCommandIo, plan: Plan, directory: string, force: boolean): Promise<number> {
  const files = await readHistory(io, directory, (await io.listFiles(directory)) ?? []);
  const result = checkSchemaHistory(plan, files);
  if (!result.ok && !force) {
    io.err(`${formatHistoryDifferences(result.differences)}\nNothing was written.`);
    return 1;
  }
  const planned = schemaHistory(plan);
  const written: string[] = [];
  for (const entry of planned) {
    const name = historyFileName(entry.version);
    const existing = files[name];
    if (existing !== undefined && historyFileMatches(existing, entry)) continue;
    await io.writeFile(directory, name, formatHistoryEntry(entry));
    written.push(name);
  }
  const deleted: string[] = [];
  if (force) {
    const keep = new Set(planned.map((entry) => historyFileName(entry.version)));
    for (const name of Object.keys(files)) {
      if (!keep.has(name)) {
        await io.deleteFile(directory, name);
        deleted.push(name);
      }
    }
  }
  const unchanged = planned.length - written.length;
  io.out(
    [
      written.length === 0 ? 'Nothing to write' : `Wrote ${written.join(', ')}`,
      deleted.length === 0 ? '' : `; deleted ${deleted.join(', ')}`,
      unchanged === 0 ? '' : `; ${unchanged} file${unchanged === 1 ? '' : 's'} already up to date`,
      '.',
    ].join(''),
  );
  return 0;
}
