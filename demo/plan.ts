// The demo's plan: four versions over a `notes` store and a `tags` store, covering every kind of change the
// library handles. Built by a function so that a failure can be injected (and a buggy v3 swapped in) per run;
// the page, the dedicated Worker and the Service Worker all build it the same way.
import {
  convertField,
  defaultValue,
  definePlan,
  dropField,
  rebuildStore,
  renameField,
  renameStore,
  type Plan,
  type VersionDefinition,
  type RecordVisitor,
  type Step,
  type StepStore,
  type WalkOptions,
} from '../src/index.js';

/** Makes a step of the plan throw: at `record` (1-based, in key order) of version `version`'s faulty step. */
export interface InjectedFailure {
  readonly version: number;
  readonly record: number;
}

export interface DemoPlanOptions {
  /** Throw in a step at this version and record. */
  readonly fail?: InjectedFailure | null;
  /** v3 converts `created` with a bug (Number(iso) gives NaN): the upgrade commits, the data is wrong. */
  readonly buggy?: boolean;
  /**
   * The release this tab runs: the plan ends at this version (default {@link LATEST}). A tab opened with
   * `?release=2` plays one loaded before versions 3 and 4 were deployed: a stale tab.
   */
  readonly release?: number;
}

export const LATEST = 4;
export const DEFAULT_DB = 'idb-evolve-demo';

/** A note as seeded at v1, ~185 bytes as JSON. */
export interface NoteV1 {
  id: number;
  title: string;
  body: string;
  created: string;
  tagIds: number[];
  color: string;
  legacy: string;
}

const COLORS = ['amber', 'teal', 'slate', 'rose', 'lime', 'violet'];
const WORDS = ['buy', 'oat', 'milk', 'call', 'ana', 'fix', 'bike', 'plan', 'trip', 'read', 'book', 'pay', 'rent'];
export const TAG_NAMES = [
  'home',
  'work',
  'ideas',
  'errands',
  'health',
  'family',
  'travel',
  'books',
  'music',
  'garden',
  'money',
  'kids',
];
const BODY = 'Remember to check the list twice before leaving; bring the receipts and the spare key.';
const EPOCH = Date.UTC(2024, 0, 1);

/** The `n`-th note (ids start at 1): deterministic, so tests can recompute any record. */
export function makeNote(id: number): NoteV1 {
  const w = (i: number) => WORDS[(id * 7 + i * 3) % WORDS.length]!;
  return {
    id,
    title: `Note ${String(id).padStart(7, '0')}: ${w(0)} ${w(1)} ${w(2)}`,
    body: BODY,
    created: new Date(EPOCH + id * 61_000).toISOString(),
    tagIds: [id % TAG_NAMES.length, (id * 5 + 1) % TAG_NAMES.length],
    color: COLORS[id % COLORS.length]!,
    legacy: 'v1',
  };
}

/** The note key after v4's rebuild. */
export const uidOf = (id: number): string => `n${String(id).padStart(7, '0')}`;

/** Counts records and throws at the injected one; one per version, fresh for every plan built. */
function faultAt(version: number, options: DemoPlanOptions): () => void {
  let seen = 0;
  const fail = options.fail;
  return () => {
    seen++;
    if (fail && fail.version === version && seen === fail.record) {
      throw new Error(`Injected failure at record ${seen} of version ${version}`);
    }
  };
}

/**
 * The same step with `fault` called before each record its walks visit: how the demo injects a failure into a
 * library helper (renameField, convertField…) without changing what the helper does.
 */
function withFault(step: Step, fault: () => void): Step {
  const walking = (store: StepStore): StepStore =>
    new Proxy(store, {
      get(target, property) {
        if (property === 'walk') {
          return (visitor: RecordVisitor<unknown>, options?: WalkOptions) =>
            target.walk((value, record) => {
              fault();
              return visitor(value, record);
            }, options);
        }
        const value: unknown = Reflect.get(target, property);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
  return {
    ...step,
    run: (context) =>
      step.run({ ...context, store: ((name: string) => walking(context.store(name))) as typeof context.store }),
  };
}

const notesV1 = { keyPath: 'id', indexes: { byCreated: 'created' } } as const;
const notesV3 = {
  keyPath: 'id',
  indexes: { byCreated: 'created', byTag: { keyPath: 'tagIds', multiEntry: true } },
} as const;
const labels = { keyPath: 'id', indexes: { byName: { keyPath: 'name', unique: true } } } as const;

// Versions are ordered so that v2 is cheap (one pass over the notes): every index on `notes` makes each later
// pass slower (a put rewrites every index entry), so the multiEntry index arrives with v3.
export function makePlan(options: DemoPlanOptions = {}): Plan {
  const release = options.release ?? LATEST;
  return definePlan({ versions: allVersions(options).filter((v) => v.version <= release) });
}

function allVersions(options: DemoPlanOptions): VersionDefinition[] {
  const fault4 = faultAt(4, options);
  return [
    {
      version: 1,
      description: 'notes by id (index on created), tags',
      stores: { notes: notesV1, tags: { keyPath: 'id' } },
    },
    {
      version: 2,
      description: 'rename body → text; rename tags → labels with a unique index on name',
      stores: { notes: notesV1, labels },
      steps: [renameStore('tags', 'labels'), withFault(renameField('notes', 'body', 'text'), faultAt(2, options))],
    },
    {
      version: 3,
      description: options.buggy
        ? 'created ISO → ms (BUGGY: Number(iso) gives NaN); drop legacy; default pinned; index notes by tag'
        : 'created ISO → ms; drop legacy; default pinned; index notes by tag',
      stores: { notes: notesV3, labels },
      steps: [
        withFault(
          convertField('notes', 'created', (iso: string) => (options.buggy ? Number(iso) : Date.parse(iso))),
          faultAt(3, options),
        ),
        dropField('notes', 'legacy'),
        defaultValue('notes', 'pinned', false),
      ],
    },
    {
      version: 4,
      description: 'rebuild notes keyed by uid (keyPath id → uid)',
      stores: { notes: { ...notesV3, keyPath: 'uid' }, labels },
      steps: [
        // A rebuild copies records itself (no walk to wrap): the transform counts them.
        rebuildStore('notes', (note: { id: number }) => {
          fault4();
          const { id, ...rest } = note;
          return { uid: uidOf(id), ...rest };
        }),
      ],
    },
  ];
}

/** The note key at `version` for note id. */
export function noteKey(version: number, id: number): IDBValidKey {
  return version >= 4 ? uidOf(id) : id;
}
