// The demo page: seeds the demo database, upgrades it with the demo plan (in the page, a Worker or the Service
// Worker), injects failures, and manages snapshots. Every action is also on `window.demo` (see api.ts) so that the
// e2e tests can drive the page precisely.
import {
  deleteSnapshot,
  dryRun,
  exportSnapshot,
  importSnapshot,
  installedVersion,
  listSnapshots,
  openDatabase,
  restoreSnapshot,
  snapshotDatabase,
  snapshotPolicy,
  verifySnapshot,
  type UpgradeHooks,
  type Progress,
  type BlockedInfo,
  type UpgradeElsewhere,
  type VersionChangeInfo,
  type UpgradeReport,
} from '../src/index.js';
import type { Counts, DemoApi, LogEntry, Outcome, SnapshotRow, UpgradeOptions } from './api.js';
import {
  completion,
  counts as countsOf,
  deleteDatabase,
  folderFiles,
  read as readRecord,
  requestOf,
  sample as sampleOf,
} from './inspect.js';
import { DEFAULT_DB, LATEST, makeNote, makePlan, TAG_NAMES, type DemoPlanOptions } from './plan.js';
import { type DexieDemoApi, dexieApp, type DexieOutcome, type DexieUpgradeMode } from './dexie-app.js';
import { describeProgress, fmt, fmtBytes, fmtMs, h, renderOutcome, renderPlan } from './render.js';
import { errorData, type ErrorData, type MigrateMessage, type MigrateRequest } from './shared.js';

const DATABASE = new URLSearchParams(location.search).get('db') ?? DEFAULT_DB;
const SNAPSHOT_FOLDER = 'idb-evolve-snapshots';
/** Before every upgrade the demo runs in the page: a snapshot in OPFS, keeping the newest five. */
// "Send a copy": what an app does to keep a backup off the origin (an upload); the demo offers it as a download.
const snapshots = snapshotPolicy({
  keep: 5,
  onSnapshot: async (snapshot, file) => {
    if (!$<HTMLInputElement>('send-copy').checked) return;
    offerDownload(file, snapshot.id);
    log('snapshot', `sent a copy of ${snapshot.id} (${fmtBytes(file.size)}) as a download`);
  },
});

// ---- DOM ---------------------------------------------------------------------------------------------------------

function $<T extends HTMLElement = HTMLElement>(id: string): T {
  const element = document.getElementById(id);
  if (element === null) throw new Error(`#${id} is missing from index.html`);
  return element as T;
}

/** Lets the page paint between batches. */
const nextFrame = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 0));

// ---- state and log -----------------------------------------------------------------------------------------------

/** The release this tab runs (`?release=2`: a tab loaded before versions 3 and 4 were deployed). */
const RELEASE = Math.min(LATEST, Math.max(1, Number(new URLSearchParams(location.search).get('release')) || LATEST));

const state = {
  /** Who upgrades the database as this tab last heard: this tab, another context (with its progress), or none. */
  upgrader: 'none' as 'none' | 'this tab' | 'another context',
  /** Set once this tab learnt its code is older than the database: the reload banner is showing. */
  stale: false,
  progress: null as Progress | null,
  phases: [] as string[],
  /** When the running migration started (performance.now()). */
  started: 0,
  where: '',
  lastOutcome: null as Outcome | null,
  log: [] as LogEntry[],
  /** The connection of the last page upgrade, kept open like an app would (closes itself on versionchange). */
  connection: null as IDBDatabase | null,
  /** A connection held on purpose from the Tabs panel. */
  held: null as IDBDatabase | null,
  legacy: null as IDBDatabase | null,
  /** The writer of the last snapshot an upgrade on this page took (opfs-writable, opfs-worker, indexeddb, ...). */
  writer: null as string | null,
};

function log(kind: string, text: string): void {
  const now = new Date();
  const entry: LogEntry = { time: now.toISOString(), kind, text };
  state.log.push(entry);
  console.info(`[demo] ${kind}: ${text}`);
  const list = $('log');
  const time = `${now.toTimeString().slice(0, 8)}.${String(now.getMilliseconds()).padStart(3, '0')}`;
  list.prepend(
    h(
      'li',
      { class: `log-${kind.replace(/[^a-z]/g, '')}` },
      h('time', {}, time),
      h('span', { class: 'kind' }, kind),
      text,
    ),
  );
  while (list.children.length > 200) list.lastElementChild?.remove();
}

// Tells the demo's other tabs that the database or the snapshots changed, so that their header stays true.
const channel = typeof BroadcastChannel === 'function' ? new BroadcastChannel(`idb-evolve-demo:${DATABASE}`) : null;
function announce(what: string): void {
  channel?.postMessage(what);
}

function closeConnections(): void {
  for (const key of ['connection', 'held', 'legacy'] as const) {
    state[key]?.close();
    state[key] = null;
  }
}

// ---- database state ----------------------------------------------------------------------------------------------

const counts = (): Promise<Counts> => countsOf(DATABASE);
const read = (store: string, key: IDBValidKey): Promise<unknown> => readRecord(DATABASE, store, key);

async function refreshState(): Promise<Counts> {
  const current = await counts();
  const pill = $('db-state');
  if (current.version === 0) {
    pill.textContent = 'absent';
    pill.className = 'pill';
  } else {
    const parts = Object.entries(current.stores).map(([name, n]) => `${name} ${fmt(n)}`);
    pill.textContent = `v${current.version} · ${parts.join(' · ')}`;
    pill.className = current.version === LATEST ? 'pill ok' : 'pill';
  }
  void refreshEstimate();
  return current;
}

async function estimate(): Promise<{ usage: number; quota: number; details: Record<string, number> }> {
  const result = (await navigator.storage.estimate()) as StorageEstimate & { usageDetails?: Record<string, number> };
  return { usage: result.usage ?? 0, quota: result.quota ?? 0, details: result.usageDetails ?? {} };
}

async function refreshEstimate(): Promise<void> {
  try {
    const { usage, quota, details } = await estimate();
    const parts = Object.entries(details).map(([name, bytes]) => `${name} ${fmtBytes(bytes)}`);
    $('estimate').textContent =
      `storage ${fmtBytes(usage)} of ${fmtBytes(quota)}${parts.length ? ` (${parts.join(', ')})` : ''}`;
  } catch (error) {
    $('estimate').textContent = `storage estimate unavailable: ${String(error)}`;
  }
}

// ---- progress ------------------------------------------------------------------------------------------------------

/** A progress bar and its text line, repainted at most once per frame. */
function progressView(barId: string, textId: string) {
  const bar = $<HTMLProgressElement>(barId);
  const text = $(textId);
  let pending: { done: number; total: number; label: string } | undefined;
  let scheduled = false;
  return (done: number, total: number, label: string): void => {
    pending = { done, total, label };
    if (scheduled) return;
    scheduled = true;
    requestAnimationFrame(() => {
      scheduled = false;
      if (pending === undefined) return;
      bar.classList.add('active');
      bar.max = Math.max(1, pending.total);
      bar.value = Math.min(pending.done, bar.max);
      text.textContent = pending.label;
    });
  };
}

const seedProgress = progressView('seed-progress', 'seed-text');
const upgradeProgress = progressView('upgrade-progress', 'upgrade-text');
const snapshotProgress = progressView('snapshot-progress', 'snapshot-text');

function onProgress(p: Progress): void {
  state.progress = p;
  const phase = `${p.phase}@${p.version}`;
  if (state.phases[state.phases.length - 1] !== phase) state.phases.push(phase);
  const where = `${phase}:${p.step ?? ''}`;
  if (where !== state.where) {
    state.where = where;
    log(
      'phase',
      `${p.phase} · v${p.version}${p.step ? ` · ${p.step}` : ''} at +${fmtMs(performance.now() - state.started)}`,
    );
  }
  upgradeProgress(p.done, p.total, describeProgress(p));
}

// ---- seed ----------------------------------------------------------------------------------------------------------

async function seed(count: number, options: { duplicateTags?: boolean } = {}): Promise<Counts> {
  if (!Number.isSafeInteger(count) || count < 0 || count > 1_000_000)
    throw new RangeError('Seed between 0 and 1,000,000 records');
  closeConnections();
  const started = performance.now();
  log('seed', `deleting "${DATABASE}" and seeding ${fmt(count)} notes at v1`);
  seedProgress(0, Math.max(1, count), 'deleting the database…');
  await deleteDatabase(DATABASE, () => log('blocked', 'deleting the database waits for other connections to close'));
  const { db } = await openDatabase(DATABASE, makePlan(), { version: 1, snapshots: false });
  try {
    const tags = db.transaction('tags', 'readwrite');
    TAG_NAMES.forEach((name, id) => {
      tags.objectStore('tags').put({ id, name: options.duplicateTags && id === 1 ? TAG_NAMES[0] : name });
    });
    await completion(tags);
    // Small enough that building and queuing one batch never holds the main thread for long.
    const batch = 2000;
    for (let from = 1; from <= count; from += batch) {
      const transaction = db.transaction('notes', 'readwrite');
      const store = transaction.objectStore('notes');
      const to = Math.min(count, from + batch - 1);
      for (let id = from; id <= to; id++) store.put(makeNote(id));
      await completion(transaction);
      seedProgress(to, count, `${fmt(to)} / ${fmt(count)} notes · ${fmtMs(performance.now() - started)}`);
      await nextFrame();
    }
  } finally {
    db.close();
  }
  seedProgress(count, Math.max(1, count), `${fmt(count)} notes seeded in ${fmtMs(performance.now() - started)}`);
  log('seed', `seeded ${fmt(count)} notes in ${fmtMs(performance.now() - started)}`);
  announce(`seeded ${fmt(count)} notes`);
  const result = await refreshState();
  await refreshSnapshots();
  return result;
}

// ---- upgrades ------------------------------------------------------------------------------------------------------

interface RunResult {
  readonly report: UpgradeReport | null;
  readonly snapshotId: string | null;
  readonly error: ErrorData | null;
}

/** Runs one migration (page, dry run, worker, service worker) and checks the data around it. */
async function migrate(
  where: string,
  target: number,
  options: UpgradeOptions,
  run: (plan: DemoPlanOptions) => Promise<RunResult>,
): Promise<Outcome> {
  const plan: DemoPlanOptions = { fail: options.fail ?? null, buggy: options.buggy ?? false, release: RELEASE };
  const before = await counts();
  const beforeSample = await sampleOf(DATABASE, plan.fail?.record);
  state.progress = null;
  state.phases = [];
  setBusy(true);
  const injected = plan.fail ? `, failure injected at v${plan.fail.version} record ${plan.fail.record}` : '';
  log(where, `v${before.version} → v${target} started${plan.buggy ? ' (buggy v3)' : ''}${injected}`);
  upgradeProgress(0, 1, `${where}: starting…`);
  const started = performance.now();
  state.started = started;
  state.where = '';
  let result: RunResult;
  try {
    result = await run(plan);
  } catch (error) {
    result = { report: null, snapshotId: null, error: errorData(error) };
  }
  const ms = performance.now() - started;
  setBusy(false);
  const after = await counts();
  const afterSample = await sampleOf(DATABASE, plan.fail?.record);
  const intact =
    after.version === before.version &&
    JSON.stringify(after.stores) === JSON.stringify(before.stores) &&
    afterSample === beforeSample;
  const outcome: Outcome = {
    ok: result.error === null,
    where,
    report: result.report,
    snapshotId: result.snapshotId,
    error: result.error,
    before,
    after,
    intact,
    ms,
  };
  if (result.error === null) {
    log(
      where,
      `done in ${fmtMs(ms)}: now v${after.version}${result.snapshotId ? `, snapshot ${result.snapshotId}` : ''}`,
    );
    upgradeProgress(1, 1, `${where}: done in ${fmtMs(ms)}`);
  } else {
    log('error', `${where}: ${result.error.name} ${result.error.code ?? ''}: ${result.error.message}`);
    if (result.error.code === 'downgrade') showStale(`the database is newer than release ${RELEASE}`);
    upgradeProgress(0, 1, `${where}: failed (${result.error.code ?? result.error.name})`);
  }
  state.lastOutcome = outcome;
  announce(`${where} ${outcome.ok ? `reached v${outcome.after.version}` : 'failed'}`);
  renderOutcome($('result'), outcome);
  await refreshState();
  await refreshSnapshots();
  return outcome;
}

function hooks() {
  return {
    onProgress: (progress: Progress) => {
      setUpgrader('this tab');
      onProgress(progress);
    },
    onBlocked: (info: BlockedInfo) =>
      log('blocked', `another connection keeps v${info.oldVersion} open; the upgrade to v${info.newVersion} waits`),
    onUpgradeElsewhere,
    onVersionChange: (info: VersionChangeInfo) => {
      state.connection = null;
      log(
        'versionchange',
        `closed this tab's connection: another one wants ${info.newVersion === null ? 'to delete the database' : `v${info.newVersion}`}`,
      );
      if (info.stale)
        showStale(`another tab upgraded to v${info.newVersion}, newer than this tab's release ${RELEASE}`);
    },
    // What an app would send to its telemetry during a staged rollout.
    hooks: {
      onStart: (info) =>
        log('hook', `onStart: v${info.oldVersion} → v${info.newVersion}, versions to run: ${info.pending.join(', ')}`),
      onVersion: (report) =>
        log(
          'hook',
          `onVersion: v${report.version} in ${fmtMs(report.ms)}${report.steps.map((s) => `; ${s.name}: ${s.visited} visited, ${s.updated} updated, ${s.deleted} deleted`).join('')}`,
        ),
      onComplete: (report, info) =>
        log(
          'hook',
          `onComplete: ${report.versions.length} version(s) in ${fmtMs(report.ms)} (snapshot ${fmtMs(report.snapshotMs)}), backup ${info.backup.status === 'taken' ? info.backup.snapshot.id : info.backup.status}`,
        ),
      onFailed: (error, info) =>
        log(
          'hook',
          `onFailed: ${error.code} after ${fmtMs(info.ms)}; completed before the failure (rolled back): ${info.completed.map((v) => `v${v.version}`).join(', ') || 'none'}`,
        ),
    } satisfies UpgradeHooks,
  };
}

function upgrade(target = RELEASE, options: UpgradeOptions = {}): Promise<Outcome> {
  return migrate('upgrade', target, options, async (plan) => {
    closeConnections();
    const result = await openDatabase(DATABASE, makePlan(plan), {
      version: target,
      ...hooks(),
      snapshots: options.snapshots === false ? false : snapshots,
    });
    // Kept open like an app's connection: another tab's upgrade makes it close (see onVersionChange).
    state.connection = result.db;
    const backup = result.upgrade?.backup;
    if (backup?.status === 'skipped') log('snapshot', `upgraded without a snapshot: ${backup.error.message}`);
    if (backup?.status === 'taken') {
      const { writer, compression, size } = backup.snapshot;
      log(
        'snapshot',
        `written by ${writer ?? 'a custom storage'} (${compression}, ${fmtBytes(size ?? 0)}); storage ${backup.persistent === null ? 'persistence unknown' : backup.persistent ? 'persistent' : 'not persistent (may be evicted)'}`,
      );
      if (backup.copy.status === 'failed')
        log('error', `the copy was not sent: ${errorData(backup.copy.error).message}`);
      state.writer = writer ?? null;
    }
    const snapshotId = backup?.status === 'taken' ? backup.snapshot.id : null;
    return { report: result.upgrade?.report ?? null, snapshotId, error: null };
  });
}

function runDry(target = RELEASE, options: UpgradeOptions = {}): Promise<Outcome> {
  return migrate('dry run', target, options, async (plan) => {
    const report = await dryRun(DATABASE, makePlan(plan), {
      version: target,
      onProgress: onProgress,
      onBlocked: hooks().onBlocked,
    });
    return { report, snapshotId: null, error: null };
  });
}

/** Feeds a worker's messages into the page's progress, log and result. */
function workerListener(resolve: (result: RunResult) => void): (message: MigrateMessage) => void {
  return (message) => {
    if (message.type === 'progress') onProgress(message.progress);
    else if (message.type === 'blocked') log('blocked', `(worker) other connections keep v${message.oldVersion} open`);
    else if (message.type === 'done') {
      log(message.where, `reports v${message.version} after ${fmtMs(message.ms)}`);
      resolve({ report: message.report, snapshotId: message.snapshotId, error: null });
    } else resolve({ report: null, snapshotId: null, error: message.error });
  };
}

function runInWorker(target = RELEASE, options: UpgradeOptions = {}): Promise<Outcome> {
  return migrate('worker', target, options, (plan) => {
    closeConnections();
    const worker = new Worker(new URL('./worker.ts', import.meta.url), { type: 'module', name: 'idb-evolve-demo' });
    return new Promise<RunResult>((resolve) => {
      const listen = workerListener(resolve);
      worker.onmessage = (event: MessageEvent<MigrateMessage>) => listen(event.data);
      worker.onerror = (event) =>
        resolve({
          report: null,
          snapshotId: null,
          error: { name: 'WorkerError', message: event.message || 'the worker failed to load', typed: false },
        });
      const request: MigrateRequest = { type: 'migrate', database: DATABASE, target, plan };
      worker.postMessage(request);
    }).finally(() => worker.terminate());
  });
}

async function serviceWorker(): Promise<ServiceWorker> {
  if (!('serviceWorker' in navigator))
    throw new Error('Service workers are not available here (needs a secure context)');
  // The dev server serves the TypeScript entry as a module script at the root, so its scope covers the page; a
  // production build (`npm run demo:build`) has it as one self-contained /sw.js (demo/vite.sw.config.ts).
  const built = await fetch('/sw.js', { method: 'HEAD' }).then(
    (response) => response.ok && /javascript/.test(response.headers.get('content-type') ?? ''),
    () => false,
  );
  const registration = await navigator.serviceWorker.register(built ? '/sw.js' : '/sw.ts', {
    type: 'module',
    scope: '/',
    updateViaCache: 'none',
  });
  const worker = registration.active ?? registration.waiting ?? registration.installing;
  if (worker === null) throw new Error('The service worker did not install');
  if (worker.state !== 'activated') {
    await new Promise<void>((resolve, reject) => {
      worker.addEventListener('statechange', () => {
        if (worker.state === 'activated') resolve();
        if (worker.state === 'redundant') reject(new Error('The service worker became redundant'));
      });
    });
  }
  return worker;
}

function runInServiceWorker(target = RELEASE, options: UpgradeOptions = {}): Promise<Outcome> {
  return migrate('service worker', target, options, async (plan) => {
    closeConnections();
    const worker = await serviceWorker();
    const channel = new MessageChannel();
    return new Promise<RunResult>((resolve) => {
      const listen = workerListener(resolve);
      channel.port1.onmessage = (event: MessageEvent<MigrateMessage>) => listen(event.data);
      const request: MigrateRequest = { type: 'migrate', database: DATABASE, target, plan };
      worker.postMessage(request, [channel.port2]);
    }).finally(() => channel.port1.close());
  });
}

// ---- snapshots ---------------------------------------------------------------------------------------------------

async function snapshotRows(): Promise<SnapshotRow[]> {
  const list = await listSnapshots({ database: DATABASE });
  return list.map((s) => ({
    id: s.id,
    database: s.database,
    version: s.version,
    reason: s.reason,
    created: s.created.toISOString(),
    size: s.size ?? null,
    compression: s.compression ?? 'none',
  }));
}

async function refreshSnapshots(): Promise<void> {
  const body = $('snapshots');
  let rows: SnapshotRow[];
  try {
    rows = await snapshotRows();
  } catch (error) {
    body.replaceChildren(
      h('tr', {}, h('td', { colspan: '6', class: 'bad' }, `cannot list snapshots: ${errorData(error).message}`)),
    );
    return;
  }
  if (rows.length === 0) {
    body.replaceChildren(
      h(
        'tr',
        {},
        h('td', { colspan: '6', class: 'muted' }, 'No snapshots yet: upgrading an existing database takes one.'),
      ),
    );
    return;
  }
  body.replaceChildren(
    ...rows.map((row) => {
      const actions = h('td', { class: 'actions' });
      const action = (label: string, run: () => Promise<void>) => {
        const button = h('button', { class: 'small' }, label);
        button.addEventListener(
          'click',
          () => void run().catch((error: unknown) => log('error', errorData(error).message)),
        );
        return button;
      };
      actions.append(
        action('Verify', async () => void (await verify(row.id))),
        action('Download', async () => download(row.id)),
        action('Restore', async () => void (await restore(row.id))),
        action('Delete', async () => {
          await deleteSnapshot(row.id);
          log('snapshot', `deleted ${row.id}`);
          await refreshSnapshots();
        }),
      );
      return h(
        'tr',
        { 'data-id': row.id },
        h('td', { class: 'id' }, h('code', {}, row.id)),
        h('td', {}, `v${row.version}`),
        h('td', {}, row.reason),
        h('td', {}, new Date(row.created).toLocaleString('en-GB')),
        h(
          'td',
          { class: 'num' },
          row.size === null ? '—' : `${fmtBytes(row.size)}${row.compression === 'gzip' ? ' gz' : ''}`,
        ),
        actions,
      );
    }),
  );
  void refreshEstimate();
}

async function verify(
  id: string,
): Promise<{ ok: boolean; counts: Record<string, number> | null; error: ErrorData | null }> {
  try {
    const info = await verifySnapshot(id);
    const counts = { ...(info.counts ?? {}) };
    log(
      'snapshot',
      `verified ${id}: ${Object.entries(counts)
        .map(([s, n]) => `${s} ${fmt(n)}`)
        .join(', ')} ✓`,
    );
    return { ok: true, counts, error: null };
  } catch (error) {
    const data = errorData(error);
    log('error', `verify ${id}: ${data.code ?? data.name}: ${data.message}`);
    return { ok: false, counts: null, error: data };
  }
}

async function download(id: string): Promise<void> {
  const file = await exportSnapshot(id);
  offerDownload(file, id);
  log('snapshot', `exported ${id} (${fmtBytes(file.size)})`);
}

function offerDownload(file: Blob, name: string): void {
  const url = URL.createObjectURL(file);
  const link = h('a', { href: url, download: name });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}

async function importFile(file: File): Promise<{ ok: boolean; id: string | null; error: ErrorData | null }> {
  try {
    const info = await importSnapshot(file);
    log('snapshot', `imported ${info.id}`);
    await refreshSnapshots();
    return { ok: true, id: info.id, error: null };
  } catch (error) {
    const data = errorData(error);
    log('error', `import: ${data.code ?? data.name}: ${data.message}`);
    return { ok: false, id: null, error: data };
  }
}

async function snapshotNow(): Promise<{ ok: boolean; id: string | null; error: ErrorData | null }> {
  try {
    const info = await snapshotDatabase(DATABASE, {
      onProgress: (p) => snapshotProgress(p.done, p.total, `snapshot · ${p.store} · ${fmt(p.done)} / ${fmt(p.total)}`),
    });
    snapshotProgress(1, 1, `snapshot ${info.id} written`);
    log('snapshot', `wrote ${info.id}`);
    await refreshSnapshots();
    return { ok: true, id: info.id, error: null };
  } catch (error) {
    const data = errorData(error);
    log('error', `snapshot: ${data.code ?? data.name}: ${data.message}`);
    return { ok: false, id: null, error: data };
  }
}

async function restore(id: string): ReturnType<DemoApi['restore']> {
  closeConnections();
  setBusy(true);
  log('restore', `restoring ${id}`);
  try {
    const { snapshot: _snapshot, ...report } = await restoreSnapshot(DATABASE, id, {
      onProgress: (p) =>
        snapshotProgress(
          p.done,
          p.total,
          `restore · ${p.phase} · ${p.unit === 'bytes' ? fmtBytes(p.done) : fmt(p.done)} / ${p.unit === 'bytes' ? fmtBytes(p.total) : fmt(p.total)}`,
        ),
      onBlocked: () => log('blocked', 'the restore waits for other connections to close'),
    });
    snapshotProgress(
      1,
      1,
      `restored v${report.version} in ${fmtMs(report.ms)}${report.recreated ? ' (database recreated)' : ''}`,
    );
    announce(`restored ${id}`);
    log(
      'restore',
      `restored ${id}: v${report.version}, ${Object.entries(report.counts)
        .map(([s, n]) => `${s} ${fmt(n)}`)
        .join(', ')}`,
    );
    return { ok: true, report, error: null, after: await refreshState() };
  } catch (error) {
    const data = errorData(error);
    log('error', `restore: ${data.code ?? data.name}: ${data.message}`);
    snapshotProgress(0, 1, `restore failed: ${data.code ?? data.name}`);
    return { ok: false, report: null, error: data, after: await refreshState() };
  } finally {
    setBusy(false);
    await refreshSnapshots();
  }
}

// ---- tabs --------------------------------------------------------------------------------------------------------

/** Another call, tab, worker or the service worker holds the upgrade: show who, and its progress. */
function onUpgradeElsewhere(event: UpgradeElsewhere): void {
  if (event.type === 'waiting') {
    setUpgrader('another context');
    log('elsewhere', 'another tab, worker or service worker is upgrading: this tab waits, then opens without running');
  } else if (event.type === 'started') {
    setUpgrader('another context');
    log(
      'elsewhere',
      `another context started v${event.oldVersion} → v${event.newVersion}${event.dryRun ? ' (dry run)' : ''}`,
    );
  } else if (event.type === 'progress') {
    setUpgrader('another context', event.progress);
  } else {
    log(
      'elsewhere',
      `the other context ${event.ok ? `finished: v${event.version}` : `failed (${event.code ?? 'error'})`}`,
    );
    setUpgrader('none');
  }
}

function setUpgrader(upgrader: (typeof state)['upgrader'], progress?: Progress): void {
  state.upgrader = upgrader;
  const detail =
    progress === undefined
      ? ''
      : `: ${progress.phase}${progress.version === undefined ? '' : ` v${progress.version}`} ${fmt(progress.done)}/${fmt(progress.total)} ${progress.unit}`;
  $('tabs-upgrader').textContent =
    upgrader === 'none'
      ? 'no upgrade running'
      : upgrader === 'this tab'
        ? 'this tab is the upgrader'
        : `another context is upgrading${detail}`;
  if (progress !== undefined) upgradeProgress(progress.done, Math.max(1, progress.total), `elsewhere${detail}`);
}

/**
 * Opens the database the way an app does on page load: no counting before or after (a read would itself wait
 * behind another tab's upgrade), just `openDatabase` with the tab's release, told when another context upgrades.
 */
async function openLikeApp(): Promise<{ ok: boolean; upgraded: boolean; version: number; error: ErrorData | null }> {
  closeConnections();
  log('open', `opening like a page load (release ${RELEASE})`);
  try {
    const { db, upgrade } = await openDatabase(DATABASE, makePlan({ release: RELEASE }), { ...hooks(), snapshots });
    state.connection = db;
    setUpgrader('none');
    log('open', upgrade === null ? `opened at v${db.version}: nothing to run here` : `upgraded to v${db.version} here`);
    await refreshState();
    return { ok: true, upgraded: upgrade !== null, version: db.version, error: null };
  } catch (error) {
    const data = errorData(error);
    log('error', `open: ${data.name} ${data.code ?? ''}: ${data.message}`);
    if (data.code === 'downgrade') showStale(`the database is newer than release ${RELEASE}`);
    return { ok: false, upgraded: false, version: 0, error: data };
  }
}

/** The stale-tab banner: this tab's code is older than the database. */
function showStale(why: string): void {
  if (!state.stale) log('stale', `a new version is ready (${why}): reload this tab`);
  state.stale = true;
  $('stale-banner').hidden = false;
}

async function hold(kind: 'library' | 'legacy'): Promise<number> {
  release();
  const version = await installedVersion(DATABASE);
  if (version === 0) {
    log('hold', 'nothing to hold: the database does not exist (seed it first)');
    return 0;
  }
  if (kind === 'library') {
    const { db } = await openDatabase(DATABASE, makePlan({ release: RELEASE }), {
      version,
      snapshots: false,
      onVersionChange: (info) => {
        state.held = null;
        if (info.stale) showStale(`another tab upgraded to v${info.newVersion}`);
        log(
          'versionchange',
          `the library closed the held connection: another tab wants ${info.newVersion === null ? 'to delete the database' : `v${info.newVersion}`}`,
        );
      },
    });
    state.held = db;
    log('hold', `holding a connection at v${version} (closes itself on versionchange)`);
  } else {
    const db = await requestOf(indexedDB.open(DATABASE));
    db.onversionchange = (event) =>
      log(
        'versionchange',
        `legacy connection asked to close for ${event.newVersion === null ? 'a deletion' : `v${event.newVersion}`}; it ignores it until Release`,
      );
    state.legacy = db;
    log(
      'hold',
      `holding a legacy connection at v${version} (ignores versionchange: the other tab's upgrade is blocked)`,
    );
  }
  return version;
}

function release(): void {
  if (state.held !== null || state.legacy !== null) log('hold', 'released the held connections');
  state.held?.close();
  state.legacy?.close();
  state.held = null;
  state.legacy = null;
}

// ---- wiring ------------------------------------------------------------------------------------------------------

const BUSY_BUTTONS = ['seed', 'upgrade', 'dry-run', 'run-worker', 'run-sw', 'snapshot-now'];
function setBusy(busy: boolean): void {
  for (const id of BUSY_BUTTONS) $<HTMLButtonElement>(id).disabled = busy;
}

function formOptions(): UpgradeOptions {
  const inject = $<HTMLInputElement>('inject').checked;
  return {
    buggy: $<HTMLInputElement>('buggy').checked,
    snapshots: !$<HTMLInputElement>('no-snapshot').checked,
    fail: inject
      ? {
          version: Number($<HTMLInputElement>('inject-version').value),
          record: Number($<HTMLInputElement>('inject-record').value),
        }
      : null,
  };
}

const target = (): number => Number($<HTMLSelectElement>('target').value);

function on(id: string, run: () => Promise<unknown>): void {
  $(id).addEventListener('click', () => {
    run().catch((error: unknown) => {
      setBusy(false);
      const data = errorData(error);
      log('error', `${data.name}${data.code ? ` (${data.code})` : ''}: ${data.message}`);
    });
  });
}

function wire(): void {
  $('db-name').textContent = DATABASE;
  const select = $<HTMLSelectElement>('target');
  // A stale tab only knows the versions of its release.
  for (let version = 2; version <= RELEASE; version++)
    select.append(h('option', { value: String(version) }, `v${version}`));
  select.value = String(RELEASE);
  for (const id of ['second-tab', 'away']) {
    const link = $<HTMLAnchorElement>(id);
    link.href = `${link.getAttribute('href')}${location.search}`;
  }
  const stale = new URLSearchParams(location.search);
  stale.set('release', '2');
  $<HTMLAnchorElement>('stale-tab').href = `./?${stale}`;

  on('seed', () =>
    seed(Number($<HTMLInputElement>('seed-count').value), {
      duplicateTags: $<HTMLInputElement>('seed-duplicates').checked,
    }),
  );
  on('upgrade', () => upgrade(target(), formOptions()));
  on('dry-run', () => runDry(target(), formOptions()));
  on('run-worker', () => runInWorker(target(), formOptions()));
  on('run-sw', () => runInServiceWorker(target(), formOptions()));
  on('snapshot-now', snapshotNow);
  on('snapshots-refresh', refreshSnapshots);
  on('refresh', async () => {
    await refreshState();
    await refreshSnapshots();
  });
  on('hold', () => hold('library'));
  on('hold-legacy', () => hold('legacy'));
  on('release', async () => release());
  on('open-app', openLikeApp);
  $<HTMLInputElement>('buggy').addEventListener('change', (event) =>
    renderPlan($('plan'), makePlan({ buggy: (event.target as HTMLInputElement).checked })),
  );
  const input = $<HTMLInputElement>('import');
  input.addEventListener('change', () => {
    const file = input.files?.[0];
    if (file !== undefined) void importFile(file).finally(() => (input.value = ''));
  });

  channel?.addEventListener('message', (event: MessageEvent<string>) => {
    log('other tab', event.data);
    void refreshState().then(refreshSnapshots);
  });
  addEventListener('pagehide', (event) =>
    log('pagehide', event.persisted ? 'page may enter the back/forward cache' : 'page unloading'),
  );
  addEventListener('pageshow', (event) => {
    if (event.persisted) {
      log('pageshow', 'restored from the back/forward cache');
      void refreshState();
    }
  });
  const navigation = performance.getEntriesByType('navigation')[0] as
    | (PerformanceNavigationTiming & { notRestoredReasons?: unknown })
    | undefined;
  if (navigation?.type === 'back_forward' && navigation.notRestoredReasons) {
    log('pageshow', `not restored from the back/forward cache: ${JSON.stringify(navigation.notRestoredReasons)}`);
  }

  renderPlan($('plan'), makePlan({ release: RELEASE }));
  $('tabs-release').textContent =
    RELEASE === LATEST
      ? `release ${RELEASE} (latest)`
      : `release ${RELEASE} (stale: v${RELEASE + 1}–v${LATEST} not deployed here)`;
  $('reload').addEventListener('click', () => location.reload());
  void refreshState().then(refreshSnapshots);
  log('ready', `page loaded; database "${DATABASE}"`);
}

// ---- Dexie app panel ---------------------------------------------------------------------------------------------

const dexieActions = dexieApp(`${DATABASE}-dexie-app`, snapshots, (kind, text) => log(kind, text));
/** The panel's actions as `window.demo.dexie` too: a call from a test shows on the page like a click. */
const dexie: DexieDemoApi = {
  ...dexieActions,
  create: async (count) => {
    const counted = await dexieActions.create(count);
    await showDexieState();
    return counted;
  },
  upgrade: async (mode) => {
    const outcome = await dexieActions.upgrade(mode);
    showDexieOutcome(outcome);
    await showDexieState();
    return outcome;
  },
  adopt: async () => {
    const code = await dexieActions.adopt();
    $('dexie-code').textContent = code;
    $('dexie-code').hidden = false;
    return code;
  },
};

async function showDexieState(): Promise<void> {
  const { version, stores } = await dexie.counts();
  $('dexie-state').textContent =
    version === 0
      ? `"${dexie.database}" does not exist yet`
      : `"${dexie.database}": IndexedDB version ${version} (Dexie ${version / 10}), ${stores.friends ?? 0} friends`;
}

function showDexieOutcome(outcome: DexieOutcome): void {
  const { ok, error, committed, restored, intact, snapshotId } = outcome;
  const lines = ok
    ? [`Upgraded: IndexedDB ${outcome.before.version} -> ${outcome.after.version}; backup ${outcome.backup}.`]
    : [
        `${error?.name} ${error?.code}: ${error?.message}`,
        committed
          ? restored
            ? 'The failure had committed: the snapshot was restored.'
            : 'The failure had committed.'
          : 'IndexedDB rolled the upgrade back.',
        `Data ${intact ? 'intact' : 'CHANGED'}: version ${outcome.after.version}, ${outcome.after.stores.friends ?? 0} friends.`,
      ];
  if (snapshotId !== null) lines.push(`Snapshot taken before the upgrade: ${snapshotId}`);
  $('dexie-result').className = ok ? 'ok' : 'error';
  $('dexie-result').replaceChildren(...lines.map((line) => h('p', {}, line)));
}

function wireDexie(): void {
  const on = (id: string, run: () => Promise<unknown>): void =>
    $(id).addEventListener('click', () => void run().then(showDexieState).then(refreshSnapshots));
  on('dexie-create', () => dexie.create(Number($<HTMLInputElement>('dexie-count').value) || 200));
  on('dexie-upgrade', () => dexie.upgrade($<HTMLSelectElement>('dexie-mode').value as DexieUpgradeMode));
  on('dexie-adopt', () => dexie.adopt().catch((error: unknown) => log('error', String((error as Error).message))));
  void showDexieState();
}

const api: DemoApi = {
  database: DATABASE,
  dexie,
  get progress() {
    return state.progress;
  },
  get phases() {
    return state.phases;
  },
  get log() {
    return state.log;
  },
  get writer() {
    return state.writer;
  },
  get lastOutcome() {
    return state.lastOutcome;
  },
  runsRelease: RELEASE,
  get upgrader() {
    return state.upgrader;
  },
  get stale() {
    return state.stale;
  },
  seed,
  upgrade,
  dryRun: runDry,
  runInWorker,
  runInServiceWorker,
  counts,
  version: async () => (await counts()).version,
  read,
  snapshots: snapshotRows,
  snapshotFiles: () => folderFiles(SNAPSHOT_FOLDER),
  snapshotNow,
  verify,
  exportText: async (id) => (await exportSnapshot(id)).text(),
  importText: (text, fileName) => importFile(new File([text], fileName, { type: 'application/x-ndjson' })),
  deleteSnapshot: async (id) => {
    await deleteSnapshot(id);
    await refreshSnapshots();
  },
  restore,
  hold,
  release,
  open: openLikeApp,
  estimate: async () => {
    const { usage, quota } = await estimate();
    return { usage, quota };
  },
};

window.demo = api;
wire();
wireDexie();
