/**
 * The `idb-evolve-adopt` command: reads a snapshot file (exported from a device or written by `snapshotDatabase`)
 * and prints the plan module whose first version is that database's layout, with its file access injected so that
 * it is tested without a process. The bin (bin/idb-evolve-adopt.mjs) passes Node's file system.
 *
 * @module
 */
import { type AdoptedLibrary, type AdoptOptions, adoptSnapshot } from '../tooling/adopt.js';

/** File access and output for {@link runAdoptCommand}; the `idb-evolve-adopt` bin passes Node's. */
export interface AdoptCommandIo {
  readFile(path: string): Promise<Uint8Array>;
  writeFile(path: string, text: string): Promise<void>;
  /** Prints a line to standard output. */
  out(text: string): void;
  /** Prints a line to standard error. */
  err(text: string): void;
}

const HELP = `Usage:
  idb-evolve-adopt <snapshot-file> [--library dexie|localforage|pouchdb|other] [--export NAME] [--import MODULE] [--out FILE]

Writes the idb-evolve plan module whose first version (the baseline) is the layout of the database in
<snapshot-file> (gzip or plain NDJSON, as exportSnapshot or snapshotDatabase write it). The whole file is
verified first. The baseline is the database's IndexedDB version with every store and index as installed; an
upgrade from it is then an ordinary idb-evolve version.

  --library  the library that made the database, for the notes (Dexie's version x10); found from the layout
             when it shows (PouchDB, localForage, Dexie's $meta)
  --export   the exported plan's name (default: plan)
  --import   the module definePlan is imported from (default: idb-evolve)
  --out      write the module to FILE instead of standard output

In a page of the app (to adopt the database installed in a browser), call adoptDatabase(name) from
idb-evolve/tooling instead.

Exit codes: 0 ok, 1 the file could not be read or is not a valid snapshot, 2 usage error.`;

const LIBRARIES: readonly AdoptedLibrary[] = ['dexie', 'localforage', 'pouchdb', 'other'];

interface Parsed {
  readonly file: string;
  readonly out: string | undefined;
  readonly options: AdoptOptions;
}

/** The arguments as options, or the usage problem. */
function parse(args: readonly string[]): Parsed | string {
  const values: Record<string, string> = {};
  const positional: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (!arg.startsWith('--')) {
      positional.push(arg);
      continue;
    }
    const name = arg.slice(2);
    if (!['library', 'export', 'import', 'out'].includes(name)) return `unknown option "${arg}"`;
    const value = args[++i];
    if (value === undefined) return `"${arg}" needs a value`;
    values[name] = value;
  }
  if (positional.length !== 1) return positional.length === 0 ? 'missing snapshot file' : 'give one snapshot file';
  const library = values.library as AdoptedLibrary | undefined;
  if (library !== undefined && !LIBRARIES.includes(library)) return `--library must be one of ${LIBRARIES.join(', ')}`;
  return {
    file: positional[0]!,
    out: values.out,
    options: {
      ...(library === undefined ? {} : { library }),
      ...(values.export === undefined ? {} : { exportName: values.export }),
      ...(values.import === undefined ? {} : { importFrom: values.import }),
    },
  };
}

/**
 * What the `idb-evolve-adopt` CLI runs (see its help). Resolves with the exit code: 0 ok, 1 unreadable or invalid
 * snapshot, 2 usage error.
 */
export async function runAdoptCommand(args: readonly string[], io: AdoptCommandIo): Promise<number> {
  if (args.length === 1 && (args[0] === '--help' || args[0] === '-h')) {
    io.out(HELP);
    return 0;
  }
  const parsed = parse(args);
  if (typeof parsed === 'string') {
    io.err(`idb-evolve-adopt: ${parsed}\n\n${HELP}`);
    return 2;
  }
  let code: string;
  try {
    const bytes = await io.readFile(parsed.file);
    code = (await adoptSnapshot(new Blob([bytes as Uint8Array<ArrayBuffer>]), parsed.options)).code;
  } catch (error) {
    const usage = (error as { name?: string })?.name === 'OptionsError';
    io.err(`idb-evolve-adopt: ${parsed.file}: ${(error as Error)?.message ?? String(error)}`);
    return usage ? 2 : 1;
  }
  if (parsed.out === undefined) io.out(code.trimEnd());
  else {
    await io.writeFile(parsed.out, code);
    io.err(`Wrote ${parsed.out}.`);
  }
  return 0;
}
