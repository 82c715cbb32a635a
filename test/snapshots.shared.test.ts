import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import {
  definePlan,
  exportSnapshot,
  importSnapshot,
  listSnapshots,
  memorySnapshotStorage,
  openDatabase,
  renameField,
  renameStore,
  restoreSnapshot,
  snapshotDatabase,
  snapshotPolicy,
  SnapshotError,
  updateRecords,
  verifySnapshot,
  type SnapshotPolicyOptions,
  type SnapshotStorage,
} from '../src/index.js';
import { dump, fakeEnvironment, openAndClose, request, seedDatabase } from './helpers.js';

const v1 = { version: 1, stores: { notes: { keyPath: 'id', indexes: { byTitle: 'title' } }, blobs: {} } } as const;
const v2 = {
  version: 2,
  stores: v1.stores,
  steps: [
    updateRecords('notes', (n: { id: number; title: string }) => ({ ...n, title: n.title.toUpperCase() }), {
      name: 'upper',
    }),
  ],
} as const;
const v3 = {
  version: 3,
  stores: v1.stores,
  steps: [
    updateRecords('notes', (n: { id: number; title: string }) => ({ ...n, title: `${n.title}!` }), { name: 'bang' }),
  ],
  down: { notes: (n: { id: number; title: string }) => ({ ...n, title: n.title.replace(/!$/, '') }) },
} as const;
const plan12 = definePlan({ versions: [v1, v2] });
const plan123 = definePlan({ versions: [v1, v2, v3] });
const notes = [
  { id: 1, title: 'a' },
  { id: 2, title: 'b' },
];

async function seeded() {
  const env = fakeEnvironment();
  await seedDatabase('db', plan12, 1, { notes }, env.options);
  return env;
}

const idb = ({ indexedDB, IDBKeyRange }: { indexedDB: IDBFactory; IDBKeyRange: typeof globalThis.IDBKeyRange }) => ({
  indexedDB,
  IDBKeyRange,
});

async function text(storage: SnapshotStorage, id: string): Promise<string> {
  return (await storage.read(id))!.text();
}

describe('snapshot before upgrade', () => {
  test('an upgrade writes one snapshot of the state it starts from, and reports it', async () => {
    const { options, storage } = await seeded();
    const { db, snapshot } = await openDatabase('db', plan12, options);
    db.close();
    expect(snapshot).toMatchObject({ database: 'db', version: 1, reason: 'upgrade', counts: { notes: 2, blobs: 0 } });
    const [listed, ...rest] = await listSnapshots({ storage });
    expect(rest).toEqual([]);
    expect(listed!.id).toBe(snapshot!.id);
    const lines = (await text(storage, snapshot!.id)).trimEnd().split('\n');
    expect(lines).toHaveLength(4);
    expect(JSON.parse(lines[0]!)).toMatchObject({
      format: 'idb-evolve-snapshot',
      formatVersion: 1,
      database: 'db',
      version: 1,
    });
    expect(JSON.parse(lines[1]!)).toEqual({ s: 1, v: { id: 1, title: 'a' } });
    expect(JSON.parse(lines[3]!)).toMatchObject({ end: true, records: 2, counts: [0, 2] });
    expect(await verifySnapshot(snapshot!.id, { storage })).toMatchObject({
      version: 1,
      counts: { notes: 2, blobs: 0 },
    });
  });

  test('fresh installs, opens without upgrade and dry runs write no snapshot', async () => {
    const { options, storage } = fakeEnvironment();
    await openAndClose('db', plan12, options);
    await openAndClose('db', plan12, options);
    await openAndClose('db', plan123, { ...options, version: 2 });
    expect(await listSnapshots({ storage })).toEqual([]);
  });

  test('a snapshot that cannot be written refuses the upgrade and leaves the database untouched', async () => {
    const { factory, options } = await seeded();
    const before = await dump(factory, 'db');
    const full: SnapshotStorage = {
      ...memorySnapshotStorage(),
      create: async () => ({
        write: async () => {
          throw new SnapshotError('snapshot_quota', 'full', { cause: new DOMException('full', 'QuotaExceededError') });
        },
        close: async () => {},
        abort: async () => {},
      }),
    };
    await expect(
      openDatabase('db', plan12, { ...options, snapshot: snapshotPolicy({ storage: full }) }),
    ).rejects.toMatchObject({
      name: 'SnapshotError',
      code: 'snapshot_quota',
    });
    expect(await dump(factory, 'db')).toEqual(before);
    const { db, snapshot, snapshotError } = await openDatabase('db', plan12, {
      ...options,
      snapshot: snapshotPolicy({ storage: full, onFailure: 'proceed' }),
    });
    db.close();
    expect(snapshot).toBeNull();
    expect(snapshotError?.code).toBe('snapshot_quota');
    expect((await dump(factory, 'db')).version).toBe(2);
  });

  test.each([
    [{ keep: 0 }, 'keep must be a whole number of snapshots, at least 1 (got 0)'],
    [{ keep: Number.NaN }, 'keep must be a whole number of snapshots, at least 1 (got NaN)'],
    [{ keep: 2.5 }, 'keep must be a whole number of snapshots, at least 1 (got 2.5)'],
    [{ onFailure: 'procede' }, `onFailure must be 'refuse', 'proceed' or a function (got "procede")`],
    [
      { storage: {} },
      'storage must be a SnapshotStorage (list, create, read and delete), such as opfsSnapshotStorage() or memorySnapshotStorage()',
    ],
    [
      { storage: null },
      'storage must be a SnapshotStorage (list, create, read and delete), such as opfsSnapshotStorage() or memorySnapshotStorage()',
    ],
  ])('snapshotPolicy(%j) is an OpenError invalid_options', (options, message) => {
    expect(() => snapshotPolicy(options as SnapshotPolicyOptions)).toThrow(
      expect.objectContaining({ name: 'OpenError', code: 'invalid_options', message: `snapshotPolicy: ${message}` }),
    );
  });

  test('onFailure as a function decides per error; one that throws or answers anything else refuses', async () => {
    const unavailable = (): SnapshotStorage => ({
      ...memorySnapshotStorage(),
      create: async () => {
        throw new SnapshotError('snapshot_unavailable', 'no OPFS here');
      },
    });
    const seen: string[] = [];
    const proceedIfUnavailable = (error: SnapshotError) => {
      seen.push(error.code);
      return error.code === 'snapshot_unavailable' ? 'proceed' : 'refuse';
    };
    for (const onFailure of [
      () => 'refuse' as const,
      () => {
        throw new Error('policy bug');
      },
      () => 'yes' as unknown as 'proceed',
    ]) {
      const { factory, options } = await seeded();
      const before = await dump(factory, 'db');
      await expect(
        openDatabase('db', plan12, { ...options, snapshot: snapshotPolicy({ storage: unavailable(), onFailure }) }),
      ).rejects.toMatchObject({
        code: 'snapshot_unavailable',
      });
      expect(await dump(factory, 'db')).toEqual(before);
    }
    const { factory, options } = await seeded();
    const { db, snapshot, snapshotError } = await openDatabase('db', plan12, {
      ...options,
      snapshot: snapshotPolicy({ storage: unavailable(), onFailure: proceedIfUnavailable }),
    });
    db.close();
    expect([snapshot, snapshotError?.code, seen]).toEqual([null, 'snapshot_unavailable', ['snapshot_unavailable']]);
    expect((await dump(factory, 'db')).version).toBe(2);
  });

  test('failed upgrades retried at every start keep one snapshot, and do not push out those of older versions', async () => {
    const { options, storage } = await seeded();
    const policy = snapshotPolicy({ storage, keep: 2 });
    const manual = await snapshotDatabase('db', { ...idb(options), storage }); // at version 1, by hand
    await openAndClose('db', plan12, { ...options, snapshot: policy }); // upgrade snapshot at 1, now at 2
    const failing = definePlan({
      versions: [
        v1,
        v2,
        {
          ...v3,
          steps: [
            updateRecords(
              'notes',
              () => {
                throw new Error('always');
              },
              { name: 'fails' },
            ),
          ],
        },
      ],
    });
    const attempts: string[] = [];
    for (let attempt = 0; attempt < 3; attempt++) {
      const error = await openDatabase('db', failing, {
        ...options,
        snapshot: policy,
        hooks: { onFailed: (_, info) => attempts.push(info.snapshot!.id) },
      }).catch((e: unknown) => e);
      expect(error).toMatchObject({ code: 'step_failed' });
    }
    // With keep 2 counting every file, the third attempt would have left only two snapshots at version 2.
    const left = await listSnapshots({ storage });
    expect(left.map((s) => [s.version, s.reason])).toEqual([
      [2, 'upgrade'],
      [1, 'upgrade'],
      [1, 'manual'],
    ]);
    expect(left[0]!.id).toBe(attempts[2]);
    expect(left[2]!.id).toBe(manual.id);
  });

  test('retention keeps the newest N snapshots of the database', async () => {
    const { options, storage } = await seeded();
    const plans = [2, 3].map((n) => ({ ...options, version: n, snapshot: snapshotPolicy({ storage, keep: 1 }) }));
    await openAndClose('db', plan123, plans[0]!);
    await openAndClose('db', plan123, plans[1]!);
    const left = await listSnapshots({ storage });
    expect(left.map((s) => s.version)).toEqual([2]);
  });
});

/** Values of every kind IndexedDB stores; fake-indexeddb clones with Node's structuredClone (File becomes Blob). */
function oddValues(): Record<string, unknown> {
  const shared = { shared: true };
  const cyclic: Record<string, unknown> = { name: 'cycle' };
  cyclic.self = cyclic;
  const buffer = new ArrayBuffer(8);
  return {
    date: new Date(1700000000000),
    invalidDate: new Date(NaN),
    regexp: /a+b/giu,
    map: new Map<unknown, unknown>([
      [{ k: 1 }, 'object key'],
      [NaN, -0],
    ]),
    set: new Set([1, 'two', undefined]),
    bigint: 2n ** 70n,
    specials: [NaN, Infinity, -Infinity, -0, undefined, null],
    // biome-ignore lint/suspicious/noSparseArray: a hole is the value under test
    sparse: [1, , 3],
    typed: [
      new Uint8Array([1, 2, 3]),
      new Float64Array([1.5, -0]),
      new BigInt64Array([-5n]),
      new Int16Array(buffer, 2, 2),
      new DataView(buffer, 0, 4),
    ],
    blob: new Blob(['hello'], { type: 'text/plain' }),
    refs: [shared, shared],
    cyclic,
    proto: JSON.parse('{"__proto__": {"polluted": true}, "constructor": 1}'),
  };
}

describe('lossless snapshot and restore', () => {
  test('every value and key kind survives snapshot -> restore into another database', async () => {
    const { factory, options, storage } = fakeEnvironment();
    const plan = definePlan({
      versions: [
        {
          version: 4,
          stores: {
            odd: {},
            auto: { keyPath: 'id', autoIncrement: true },
            compound: { keyPath: ['a', 'b'], indexes: { byB: 'b' } },
          },
        },
      ],
    });
    const keys: IDBValidKey[] = [
      1,
      -Infinity,
      Infinity,
      'text',
      '',
      new Date(5),
      [1, 'a', [new Date(0)]],
      new Uint8Array([9, 8]).buffer,
    ];
    const values = Object.values(oddValues());
    const records: [IDBValidKey, unknown][] = [
      ...keys.map((k, i): [IDBValidKey, unknown] => [k, i]),
      ...values.map((v, i): [IDBValidKey, unknown] => [100 + i, v]),
    ];
    await seedDatabase('src', plan, 4, { odd: records }, options, { outOfLine: true });
    await seedDatabase(
      'src',
      plan,
      4,
      {
        auto: [{ n: 1 }, { n: 2 }],
        compound: [
          { a: 1, b: 'x' },
          { a: 1, b: 'y' },
        ],
      },
      options,
    );
    const before = await dump(factory, 'src');
    const snapshot = await snapshotDatabase('src', { ...idb(options), storage });
    expect(snapshot.counts).toEqual({ odd: records.length, auto: 2, compound: 2 });
    const report = await restoreSnapshot('copy', snapshot.id, { ...idb(options), storage, allowOtherDatabase: true });
    expect(report).toMatchObject({
      version: 4,
      recreated: false,
      counts: { odd: records.length, auto: 2, compound: 2 },
    });
    const after = await dump(factory, 'copy');
    expect(after).toEqual(before);
    const oddAfter = after.stores.odd!.records.map(([, v]) => v);
    const cyclic = oddAfter.find((v) => (v as { name?: string } | null)?.name === 'cycle') as { self: unknown };
    expect(cyclic.self).toBe(cyclic);
    const refs = oddAfter.find((v) => Array.isArray(v) && (v[0] as { shared?: boolean })?.shared === true) as unknown[];
    expect(refs[0]).toBe(refs[1]);
    expect(Object.prototype).not.toHaveProperty('polluted');
    const proto = oddAfter.find((v) => typeof v === 'object' && v !== null && Object.hasOwn(v, '__proto__'));
    expect(Object.getPrototypeOf(proto)).toBe(Object.prototype);
    const blob = oddAfter.find((v) => v instanceof Blob) as Blob;
    expect(await blob.text()).toBe('hello');
    expect(blob.type).toBe('text/plain');
    // The autoIncrement generator goes on after the restored keys.
    const { db } = await openDatabase('copy', plan, options);
    const key = await request(db.transaction('auto', 'readwrite').objectStore('auto').add({ n: 3 }));
    db.close();
    expect(key).toBe(3);
  });

  test('export then import into another storage keeps the snapshot byte for byte', async () => {
    const { options, storage } = await seeded();
    const { db, snapshot } = await openDatabase('db', plan12, options);
    db.close();
    const file = await exportSnapshot(snapshot!.id, { storage });
    const elsewhere = memorySnapshotStorage();
    const imported = await importSnapshot(new File([file], snapshot!.id), { storage: elsewhere });
    expect(imported.id).toBe(snapshot!.id);
    expect(await text(elsewhere, imported.id)).toBe(await file.text());
  });
});

describe('restore', () => {
  test('after a committed but wrong migration, restoring the pre-upgrade snapshot brings back the old version and data', async () => {
    const { factory, options, storage } = await seeded();
    const before = await dump(factory, 'db');
    const { db, snapshot } = await openDatabase('db', plan12, options);
    db.close();
    expect((await dump(factory, 'db')).stores.notes!.records[0]![1]).toEqual({ id: 1, title: 'A' });
    const report = await restoreSnapshot('db', snapshot!.id, { ...idb(options), storage });
    expect(report).toMatchObject({ version: 1, recreated: true });
    expect(await dump(factory, 'db')).toEqual(before);
    expect(await storage.list()).toEqual([snapshot!.id]);
  });

  test('a restore interrupted after deleting the database is finished by the next open', async () => {
    const { factory, options, storage } = await seeded();
    const before = await dump(factory, 'db');
    const { db, snapshot } = await openDatabase('db', plan12, options);
    db.close();
    // What a crash between the deletion and the reload leaves behind: the journal, and no database.
    const journal = await storage.create('journal@db.json');
    await journal.write(JSON.stringify({ database: 'db', snapshot: snapshot!.id, started: new Date().toISOString() }));
    await journal.close();
    await request(factory.deleteDatabase('db'));
    const reopened = await openDatabase('db', plan12, { ...options, version: 1 });
    reopened.db.close();
    expect(await dump(factory, 'db')).toEqual(before);
    expect((await storage.list()).filter((n) => n.startsWith('journal@'))).toEqual([]);
  });

  test('a journal whose snapshot was deleted is dropped instead of failing every open', async () => {
    const { factory, options, storage } = await seeded();
    const journal = await storage.create('journal@db.json');
    await journal.write(JSON.stringify({ database: 'db', snapshot: 'gone.ndjson', started: new Date().toISOString() }));
    await journal.close();
    const { db } = await openDatabase('db', plan12, options);
    db.close();
    expect((await dump(factory, 'db')).version).toBe(2);
    expect((await storage.list()).filter((n) => n.startsWith('journal@'))).toEqual([]);
  });

  test('a snapshot of another database is refused unless asked for', async () => {
    const { options, storage } = await seeded();
    const snapshot = await snapshotDatabase('db', { ...idb(options), storage });
    await expect(restoreSnapshot('other', snapshot.id, { ...idb(options), storage })).rejects.toMatchObject({
      code: 'snapshot_wrong_database',
    });
    await expect(restoreSnapshot('db', 'nope.ndjson', { ...idb(options), storage })).rejects.toMatchObject({
      code: 'snapshot_not_found',
    });
    await expect(snapshotDatabase('missing', { ...idb(options), storage })).rejects.toMatchObject({
      code: 'database_not_found',
    });
  });
});

describe('damaged snapshot files', () => {
  test('truncated or altered files are refused with a typed error and the live database is untouched', async () => {
    const { factory, options, storage } = await seeded();
    const snapshot = await snapshotDatabase('db', { ...idb(options), storage });
    const good = await text(storage, snapshot.id);
    const live = await dump(factory, 'db');
    const damagedStorage = memorySnapshotStorage();
    // Found by this property (about 1 run in 5,000): the trailer's record total was not checked.
    const wrongTotal = good.replace('"records":2,', '"records":3,');
    expect(wrongTotal).not.toBe(good);
    const totalSink = await damagedStorage.create('total.ndjson');
    await totalSink.write(wrongTotal);
    await totalSink.close();
    await expect(
      restoreSnapshot('db', 'total.ndjson', { ...idb(options), storage: damagedStorage }),
    ).rejects.toMatchObject({ code: 'snapshot_corrupt' });
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.integer({ min: 0, max: good.length - 1 }).map((cut) => good.slice(0, cut)),
          fc.tuple(fc.integer({ min: 0, max: good.length - 1 }), fc.integer({ min: 1, max: 127 })).map(([at, flip]) => {
            const code = good.charCodeAt(at) ^ flip;
            return good.slice(0, at) + String.fromCharCode(code) + good.slice(at + 1);
          }),
          fc
            .string()
            .map((junk) => good + junk)
            .filter((s) => s !== good),
        ),
        async (damaged) => {
          fc.pre(damaged !== good);
          const sink = await damagedStorage.create('x.ndjson');
          await sink.write(damaged);
          await sink.close();
          const error = await restoreSnapshot('db', 'x.ndjson', { ...idb(options), storage: damagedStorage }).then(
            () => undefined,
            (e: unknown) => e,
          );
          expect(error).toBeInstanceOf(SnapshotError);
          expect(['snapshot_corrupt', 'snapshot_unsupported', 'snapshot_wrong_database']).toContain(
            (error as SnapshotError).code,
          );
          expect(await dump(factory, 'db')).toEqual(live);
        },
      ),
      { numRuns: 150 },
    );
  });

  test('an unknown format version and a file that is not a snapshot are told apart', async () => {
    const { options } = await seeded();
    const storage = memorySnapshotStorage();
    const put = async (name: string, content: string) => {
      const sink = await storage.create(name);
      await sink.write(content);
      await sink.close();
    };
    await put('a.ndjson', '{"format":"idb-evolve-snapshot","formatVersion":99}\n');
    await put('b.ndjson', 'hello\n');
    await put('c.ndjson', '{"some":"json"}\n');
    await expect(restoreSnapshot('db', 'a.ndjson', { ...idb(options), storage })).rejects.toMatchObject({
      code: 'snapshot_unsupported',
      line: 1,
    });
    await expect(restoreSnapshot('db', 'b.ndjson', { ...idb(options), storage })).rejects.toMatchObject({
      code: 'snapshot_corrupt',
      line: 1,
    });
    await expect(restoreSnapshot('db', 'c.ndjson', { ...idb(options), storage })).rejects.toMatchObject({
      code: 'snapshot_unsupported',
    });
    await expect(importSnapshot(new Blob(['hello\n']), { storage })).rejects.toMatchObject({
      name: 'SnapshotError',
      code: 'snapshot_corrupt',
    });
  });
});

describe('downgrade', () => {
  test('by default a newer database is refused with a typed downgrade error', async () => {
    const { options } = await seeded();
    await openAndClose('db', plan123, options);
    await expect(openDatabase('db', plan12, options)).rejects.toMatchObject({
      name: 'OpenError',
      code: 'downgrade',
      oldVersion: 3,
      newVersion: 2,
    });
  });

  test('restore-snapshot with an older plan restores the newest snapshot at or below its version', async () => {
    const { factory, options } = await seeded();
    await openAndClose('db', plan12, options); // snapshot at 1, now at 2
    const atTwo = await dump(factory, 'db');
    await openAndClose('db', plan123, options); // snapshot at 2, now at 3
    const { db, downgraded } = await openDatabase('db', plan12, { ...options, downgrade: 'restore-snapshot' });
    db.close();
    expect(downgraded).toMatchObject({ fromVersion: 3, toVersion: 2, method: 'restored' });
    expect(await dump(factory, 'db')).toEqual(atTwo);
  });

  test('with down transforms, data written after the upgrade is carried down', async () => {
    const { factory, options } = await seeded();
    const { db } = await openDatabase('db', plan123, options);
    // Written at version 3, after its upgrade: must survive the rollback.
    await request(db.transaction('notes', 'readwrite').objectStore('notes').put({ id: 3, title: 'NEW!' }));
    db.close();
    const rolled = await openDatabase('db', plan123, { ...options, version: 2, downgrade: 'restore-snapshot' });
    rolled.db.close();
    expect(rolled.downgraded).toMatchObject({ fromVersion: 3, toVersion: 2, method: 'carried-down' });
    const after = await dump(factory, 'db');
    expect(after.version).toBe(2);
    expect(after.stores.notes!.records).toEqual([
      [1, { id: 1, title: 'A' }],
      [2, { id: 2, title: 'B' }],
      [3, { id: 3, title: 'NEW' }],
    ]);
    expect(after.stores.notes!.indexes).toEqual({ byTitle: { keyPath: 'title', unique: false, multiEntry: false } });
  });

  test.each([
    [
      'throws',
      (n: { id: number; title: string }) => {
        if (n.id === 2) throw new Error('cannot undo 2');
        return n;
      },
      {
        code: 'restore_failed',
        version: 3,
        store: 'notes',
        key: 2,
        message: expect.stringContaining('The down transform of version 3 for store "notes" threw: cannot undo 2'),
      },
    ],
    [
      'loses the key',
      ({ id: _id, ...rest }: { id: number; title: string }) => rest,
      { code: 'restore_failed', store: 'notes', message: expect.stringContaining('has no valid key at "id"') },
    ],
    [
      'returns what IndexedDB cannot store',
      (n: { id: number }) => ({ ...n, callback: () => n }),
      { code: 'restore_failed', store: 'notes', message: expect.stringContaining('cannot be stored') },
    ],
    [
      'gives two records one key (a put would overwrite one)',
      (n: { id: number; title: string }) => ({ ...n, id: 1 }),
      {
        code: 'restore_failed',
        store: 'notes',
        key: 2,
        message: expect.stringContaining('has the same primary key in store "notes" as another one'),
      },
    ],
  ])('a down transform that %s fails the downgrade before anything is deleted', async (_, down, expected) => {
    const plan = definePlan({ versions: [v1, { ...v2, down: {} }, { ...v3, down: { notes: down } }] });
    const { factory, options } = await seeded();
    await openAndClose('db', plan, options);
    const before = await dump(factory, 'db');
    await expect(
      openDatabase('db', plan, { ...options, version: 2, downgrade: 'restore-snapshot' }),
    ).rejects.toMatchObject({ name: 'SnapshotError', ...expected });
    expect(await dump(factory, 'db')).toEqual(before);
    expect(before.version).toBe(3);
  });

  test('a load that fails after the deletion (the checks passed) puts the current data back at once', async () => {
    let calls = 0;
    // Passes the check before the deletion (two records, two calls), then fails while loading.
    const flaky = (n: { id: number; title: string }) => {
      if (++calls > 2) throw new Error('flaky');
      return n;
    };
    const plan = definePlan({ versions: [v1, { ...v2, down: {} }, { ...v3, down: { notes: flaky } }] });
    const { factory, options, storage } = await seeded();
    await openAndClose('db', plan, options);
    const before = await dump(factory, 'db');
    await expect(
      openDatabase('db', plan, { ...options, version: 2, downgrade: 'restore-snapshot' }),
    ).rejects.toMatchObject({ code: 'restore_failed' });
    expect(calls).toBe(3);
    expect(await dump(factory, 'db')).toEqual(before);
    expect((await storage.list()).filter((name) => name.startsWith('journal@'))).toEqual([]);
  });

  test('records that would break a unique index of the older version fail the downgrade before anything is deleted', async () => {
    const people = (unique: boolean) => ({
      people: { keyPath: 'id', indexes: { byEmail: { keyPath: 'email', unique } } },
    });
    const plan = definePlan({
      versions: [
        { version: 1, stores: people(true) },
        { version: 2, stores: people(false), down: {} },
      ],
    });
    const { factory, options } = fakeEnvironment();
    await seedDatabase('db', plan, 1, { people: [{ id: 1, email: 'a@x' }] }, options);
    const { db } = await openDatabase('db', plan, options);
    // Allowed at version 2, where the index is no longer unique.
    await request(db.transaction('people', 'readwrite').objectStore('people').put({ id: 2, email: 'a@x' }));
    db.close();
    const before = await dump(factory, 'db');
    await expect(
      openDatabase('db', plan, { ...options, version: 1, downgrade: 'restore-snapshot' }),
    ).rejects.toMatchObject({
      name: 'SnapshotError',
      code: 'restore_failed',
      store: 'people',
      key: 2,
      message: expect.stringContaining('has the same key in unique index "people.byEmail" as another one'),
    });
    expect(await dump(factory, 'db')).toEqual(before);
  });

  test("carried down through renamed stores: each version's down is keyed by the name at that version", async () => {
    const withRenames = definePlan({
      versions: [
        v1,
        {
          version: 2,
          stores: { memos: { keyPath: 'id' }, blobs: {} },
          steps: [renameStore('notes', 'memos'), renameField('memos', 'title', 'text')],
          down: { memos: (m: { id: number; text: string }) => ({ id: m.id, title: m.text }) },
        },
        {
          version: 3,
          stores: { items: { keyPath: 'id' }, blobs: {} },
          steps: [renameStore('memos', 'items')],
          down: {},
        },
      ],
    });
    const { factory, options } = await seeded();
    const { db } = await openDatabase('db', withRenames, options);
    await request(db.transaction('items', 'readwrite').objectStore('items').put({ id: 3, text: 'written at v3' }));
    db.close();
    const rolled = await openDatabase('db', withRenames, { ...options, version: 1, downgrade: 'restore-snapshot' });
    rolled.db.close();
    expect(rolled.downgraded).toMatchObject({ fromVersion: 3, toVersion: 1, method: 'carried-down' });
    const after = await dump(factory, 'db');
    expect([after.version, Object.keys(after.stores).sort()]).toEqual([1, ['blobs', 'notes']]);
    expect(after.stores.notes!.records).toEqual([
      [1, { id: 1, title: 'a' }],
      [2, { id: 2, title: 'b' }],
      [3, { id: 3, title: 'written at v3' }],
    ]);
  });
});
