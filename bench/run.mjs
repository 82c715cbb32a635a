#!/usr/bin/env node
// Benchmark driver: builds the bench page with vite (bench/vite.config.ts), serves it on 127.0.0.1, runs it in one
// browser engine (engines.mjs: headless Chromium by default, Firefox ESR or WebKitGTK; fresh temp profile) and calls
// the page's `bench.*` functions. Prints a table and RATIO lines and writes bench/results.json (Chromium) or
// bench/results-<engine>.json. Plain ESM so that Node 20 runs it as is.
//
//   node bench/run.mjs [--engine chromium|firefox|webkit|all] [--quick] [--runs N] [--large-runs N] [--size N]
//                      [--large N] [--cursor-size N] [--cursor-limit S] [--only a,b] [--heap-interval MS]
//                      [--diagnose] [--out file]   (bench/README.md)
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build, preview } from 'vite';
import { ENGINES, launchEngine } from './engines.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const started = Date.now();

// ---- options --------------------------------------------------------------------------------------------------

function parseArgs(argv) {
  const options = {
    diagnose: false,
    heapInterval: 50,
    cursorLimit: undefined,
    largeRuns: 1,
    runs: 3,
    quick: false,
    size: undefined,
    large: undefined,
    cursorSize: undefined,
    only: undefined,
    engine: 'chromium',
    out: undefined,
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const value = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${arg} needs a value`);
      return v;
    };
    const int = () => {
      const n = Number(value());
      if (!Number.isSafeInteger(n) || n < 1) throw new Error(`${arg} needs a positive integer`);
      return n;
    };
    if (arg === '--runs') options.runs = int();
    else if (arg === '--quick') options.quick = true;
    else if (arg === '--diagnose') options.diagnose = true;
    else if (arg === '--heap-interval') options.heapInterval = Number(value());
    else if (arg === '--size') options.size = int();
    else if (arg === '--large-runs') options.largeRuns = int();
    else if (arg === '--cursor-limit') {
      options.cursorLimit = Number(value());
      if (!(options.cursorLimit >= 0)) throw new Error('--cursor-limit needs seconds >= 0 (0: no limit)');
    } else if (arg === '--large') options.large = int();
    else if (arg === '--cursor-size') options.cursorSize = int();
    else if (arg === '--only') options.only = value().split(',');
    else if (arg === '--out') options.out = path.resolve(value());
    else if (arg === '--engine') options.engine = value();
    else if (arg === '--help' || arg === '-h') {
      console.log(
        readFileSync(fileURLToPath(import.meta.url), 'utf8')
          .split('\n')
          .slice(1, 9)
          .join('\n'),
      );
      process.exit(0);
    } else throw new Error(`Unknown option ${arg} (see bench/README.md)`);
  }
  options.size ??= options.quick ? 20_000 : 100_000;
  options.large ??= options.quick ? 100_000 : 1_000_000;
  options.cursorSize ??= options.size;
  options.cursorLimit ??= options.quick ? 30 : 180;
  if (![...ENGINES, 'all'].includes(options.engine))
    throw new Error(`--engine must be one of ${ENGINES.join(', ')}, all (got ${options.engine})`);
  options.out ??= path.join(here, options.engine === 'chromium' ? 'results.json' : `results-${options.engine}.json`);
  return options;
}

const options = parseArgs(process.argv.slice(2));
if (options.engine === 'all') runEach();

/** `--engine all`: one run per engine, one after the other (never two at once), each with its own output file. */
function runEach() {
  if (process.argv.includes('--out')) throw new Error('--out names one file: give it with one --engine, not all');
  const args = process.argv.slice(2).filter((arg, i, all) => arg !== '--engine' && all[i - 1] !== '--engine');
  let failed = 0;
  for (const name of ENGINES) {
    const run = spawnSync(process.execPath, [fileURLToPath(import.meta.url), '--engine', name, ...args], {
      stdio: 'inherit',
    });
    if (run.status !== 0) failed++;
  }
  process.exit(failed ? 1 : 0);
}
const selected = (section, id) =>
  options.only === undefined || options.only.includes(section) || options.only.includes(id);

// Cases whose cost grows superlinearly with the store size (platform.md: 224 s at 100k): one run only.
const SINGLE_RUN = new Set(['raw-cursor', 'idb-cursor']);
// Cases also run at the large size.
const LARGE_MIGRATE = ['evolve-1pass', 'raw-getall-put'];

const log = (message) => process.stderr.write(`  · ${message}\n`);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const MB = 1024 * 1024;

// ---- statistics ---------------------------------------------------------------------------------------------

function median(values) {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

// ---- browser ------------------------------------------------------------------------------------------------

/**
 * Runs `work` (a page call) and measures CPU seconds of the engine's processes and, where the engine exposes it
 * (Chromium, CDP), the JS heap around it: a forced major GC (HeapProfiler.collectGarbage), the baseline
 * (Runtime.getHeapUsage usedSize), then a sample every 50 ms from Node while the work runs. CDP requests are served
 * on the page's main thread even while it runs JavaScript (V8 interrupts), so long synchronous stretches are sampled
 * too. Peak growth = highest sample - baseline. Elsewhere heapGrowth is undefined (not measurable, not 0).
 */
async function measured({ heap }, work) {
  await heap?.collect();
  const cpuBefore = engine.cpu();
  const finish = (ms, heapGrowth, heapSamples) => {
    const cpuAfter = engine.cpu();
    const load = os.loadavg()[0];
    loadSamples.push(load);
    const cpu = {};
    for (const kind of new Set([...Object.keys(cpuBefore), ...Object.keys(cpuAfter)])) {
      cpu[kind] = Math.max(0, (cpuAfter[kind] ?? 0) - (cpuBefore[kind] ?? 0));
    }
    return { ms, heapGrowth, heapSamples, load, cpu };
  };
  if (heap === undefined) return finish(await work(), undefined, 0);
  if (!(options.heapInterval > 0)) return finish(await work(), Number.NaN, 0);
  const baseline = await heap.used();
  let peak = baseline;
  let samples = 0;
  let running = true;
  const sampler = (async () => {
    while (running) {
      try {
        const usedSize = await heap.used();
        samples++;
        if (usedSize > peak) peak = usedSize;
      } catch {
        return;
      }
      await sleep(options.heapInterval);
    }
  })();
  try {
    const ms = await work();
    return finish(ms, peak - baseline, samples);
  } finally {
    running = false;
    await sampler;
  }
}

/** The launched engine adapter (engines.mjs). */
let engine;
const loadSamples = [];

// ---- results ------------------------------------------------------------------------------------------------

const results = {
  generated: new Date().toISOString(),
  command: `node bench/run.mjs ${process.argv.slice(2).join(' ')}`.trim(),
  machine: {
    platform: `${os.type()} ${os.release()} ${os.arch()}`,
    cpus: os.cpus().length,
    cpuModel: os.cpus()[0]?.model ?? 'unknown',
    memoryGB: Math.round(os.totalmem() / 1e9),
    node: process.version,
    loadAverageAtStart: os.loadavg().map((l) => Number(l.toFixed(2))),
  },
  browser: {},
  options: {
    runs: options.runs,
    largeRuns: options.largeRuns,
    quick: options.quick,
    size: options.size,
    large: options.large,
    cursorSize: options.cursorSize,
    cursorLimitSeconds: options.cursorLimit,
    heapIntervalMs: options.heapInterval,
  },
  record: {},
  heapMethod:
    'CDP HeapProfiler.collectGarbage, then baseline = Runtime.getHeapUsage().usedSize; samples every 50 ms from Node during the timed call; peak growth = max(sample) - baseline (garbage not yet collected counts: it is heap the page really held)',
  cases: [],
  ratios: [],
  totalSeconds: 0,
};

function record(section, c, size, runs) {
  const entry = {
    section,
    id: c.id,
    label: c.label,
    size,
    plannedRuns: runs,
    samplesMs: [],
    cpuSeconds: [],
    heapGrowthBytes: [],
    loadAverage1m: [],
    bytes: undefined,
    error: undefined,
    unavailable: c.unavailable ?? undefined,
  };
  results.cases.push(entry);
  return entry;
}

function finish(entry) {
  entry.medianMs = median(entry.samplesMs);
  entry.medianCpuSeconds = median(entry.cpuSeconds.map((c) => c.total));
  entry.medianRendererCpuSeconds = median(entry.cpuSeconds.map((c) => c.renderer ?? 0));
  entry.perRecordUs = entry.medianMs === undefined ? undefined : (entry.medianMs * 1000) / entry.size;
  if (entry.snapshotPartMs !== undefined) {
    // Per run, the snapshot's part (the upgrade report's snapshotMs) and the rest: the migration and the commit.
    entry.medianSnapshotPartMs = median(entry.snapshotPartMs);
    entry.medianUpgradePartMs = median(entry.samplesMs.map((ms, i) => ms - entry.snapshotPartMs[i]));
  }
  entry.heapGrowthMedianMB = entry.heapGrowthBytes.length ? median(entry.heapGrowthBytes) / MB : undefined;
  entry.heapGrowthMaxMB = entry.heapGrowthBytes.length ? Math.max(...entry.heapGrowthBytes) / MB : undefined;
}

const findCase = (section, id, size) =>
  results.cases.find((c) => c.section === section && c.id === id && c.size === size);

function save() {
  results.totalSeconds = (Date.now() - started) / 1000;
  results.machine.loadAverage1mDuringRuns = loadSamples.length
    ? { min: Math.min(...loadSamples), median: median(loadSamples), max: Math.max(...loadSamples) }
    : undefined;
  writeFileSync(options.out, `${JSON.stringify(results, null, 2)}\n`);
}

// ---- origins ------------------------------------------------------------------------------------------------

/**
 * Chromium keeps all IndexedDB databases of an origin in one LevelDB. Deleting a database there leaves deleted
 * ranges that later transactions of that origin read through and compact, which slowed whichever case ran next
 * (up to 2x at 1M records). So every migration run, and every snapshot/restore group, gets an origin of its own: a
 * new port on 127.0.0.1 serving the same built page, opened in a new tab. Nothing is deleted during the run; the
 * temporary profile goes at the end.
 */
let middlewares;
async function openOrigin() {
  const server = http.createServer(middlewares);
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const page = await engine.openPage(`http://127.0.0.1:${server.address().port}/`);
  return {
    ...page,
    close: async () => {
      await page.close();
      server.closeAllConnections?.();
      await new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

// ---- phases -------------------------------------------------------------------------------------------------

/** Heap growth is only recorded where the engine can measure it (undefined elsewhere: not 0). */
function pushHeap(entry, m) {
  if (m.heapGrowth !== undefined) entry.heapGrowthBytes.push(m.heapGrowth);
}
const heapNote = (m) => (m.heapGrowth === undefined ? '' : `, heap +${(m.heapGrowth / MB).toFixed(1)} MB`);

async function runMigrations(info) {
  // --diagnose: the diagnostic variants plus the peers they explain, at the main size only.
  const cases = options.diagnose
    ? [
        ...info.cases.migrate.filter((c) => ['evolve-1pass', 'raw-getall-put', 'write-floor'].includes(c.id)),
        ...info.cases.diagnose,
      ].filter((c) => selected('migrate', c.id))
    : info.cases.migrate.filter((c) => selected('migrate', c.id));
  // Groups run one after the other; inside a group, runs go round-robin over its cases so that drift (disk,
  // other load) spreads over all of them. The capped cursor cases come last, once each.
  const plan = [];
  for (const c of cases)
    if (!SINGLE_RUN.has(c.id)) plan.push({ c, size: options.size, runs: options.runs, group: 'main' });
  for (const c of cases)
    if (LARGE_MIGRATE.includes(c.id) && !options.diagnose && options.large !== options.size)
      plan.push({ c, size: options.large, runs: options.largeRuns, group: 'large' });
  for (const c of cases) if (SINGLE_RUN.has(c.id)) plan.push({ c, size: options.cursorSize, runs: 1, group: 'cursor' });

  const entries = plan.map(({ c, size, runs, group }) => ({
    entry: record('migrate', c, size, runs),
    c,
    size,
    runs,
    group,
  }));
  for (const group of ['main', 'large', 'cursor']) {
    const members = entries.filter((e) => e.group === group);
    const maxRuns = Math.max(0, ...members.map((e) => e.runs));
    for (let run = 0; run < maxRuns; run++) {
      for (const { entry, c, runs, size } of members.filter((e) => e.runs > run)) {
        if (entry.error) continue;
        if (entry.unavailable) continue;
        const name = `bench-migrate-${c.id}`;
        const limit = SINGLE_RUN.has(c.id) && options.cursorLimit > 0 ? options.cursorLimit * 1000 : undefined;
        const origin = await openOrigin();
        try {
          await origin.call('prepareMigrate', c.id, name, size);
          let stoppedAfter;
          let snapshotMs;
          const m = await measured(origin, async () => {
            // null, not undefined: JSON-only drivers (WebDriver) drop undefined arguments.
            const result = await origin.call('runMigrate', c.id, name, size, limit ?? null);
            stoppedAfter = result.stoppedAfter ?? undefined;
            snapshotMs = result.snapshotMs ?? undefined;
            return result.ms;
          });
          if (stoppedAfter === undefined) await origin.call('finishMigrate', c.id, name, size);
          else await origin.call('finishStopped', name, size);
          entry.samplesMs.push(m.ms);
          pushHeap(entry, m);
          entry.loadAverage1m.push(Number(m.load.toFixed(2)));
          entry.cpuSeconds.push(Object.fromEntries(Object.entries(m.cpu).map(([k, v]) => [k, Number(v.toFixed(2))])));
          if (stoppedAfter !== undefined) entry.stoppedAfter = stoppedAfter;
          if (snapshotMs !== undefined) (entry.snapshotPartMs ??= []).push(snapshotMs);
          const stopNote =
            stoppedAfter === undefined
              ? ''
              : ` STOPPED at the ${options.cursorLimit} s limit after ${stoppedAfter} of ${size} records (rolled back)`;
          const snapshotNote = snapshotMs === undefined ? '' : ` (snapshot ${(snapshotMs / 1000).toFixed(2)} s of it)`;
          log(
            `migrate ${c.id} ${size}: ${(m.ms / 1000).toFixed(2)} s${snapshotNote}${stopNote}${heapNote(m)} (run ${run + 1}/${runs})`,
          );
        } catch (error) {
          entry.error = String(error?.message ?? error).split('\n')[0];
          log(`migrate ${c.id} ${size}: ERROR ${entry.error}`);
        } finally {
          await origin.close();
        }
      }
      save();
    }
  }
  for (const { entry } of entries) finish(entry);
}

const SNAP_DB = 'bench-snapshot-source';

async function runSnapshots(info, size, withRestore) {
  const cases = info.cases.snapshot.filter((c) => selected('snapshot', c.id));
  const restores = withRestore ? info.cases.restore.filter((c) => selected('restore', c.id)) : [];
  if (cases.length === 0 && restores.length === 0) return;
  const origin = await openOrigin();
  try {
    await snapshotGroup(origin, cases, restores, size);
  } finally {
    await origin.close();
  }
}

async function snapshotGroup(origin, cases, restores, size) {
  const fillMs = await origin.call('populate', SNAP_DB, size);
  log(`snapshot source: ${size} records written in ${(fillMs / 1000).toFixed(1)} s (not timed)`);
  const entries = cases.map((c) => ({ c, entry: record('snapshot', c, size, options.runs) }));
  const refs = {};
  for (let run = 0; run < options.runs; run++) {
    for (const { c, entry } of entries) {
      if (entry.error || entry.unavailable) continue;
      try {
        await origin.call('cleanSnapshot', c.id);
        const m = await measured(origin, () => origin.call('runSnapshot', c.id, SNAP_DB));
        const output = await origin.call('snapshotOutput', c.id);
        refs[c.id] = output.ref;
        entry.bytes = output.bytes;
        entry.samplesMs.push(m.ms);
        pushHeap(entry, m);
        entry.loadAverage1m.push(Number(m.load.toFixed(2)));
        entry.cpuSeconds.push(Object.fromEntries(Object.entries(m.cpu).map(([k, v]) => [k, Number(v.toFixed(2))])));
        log(
          `snapshot ${c.id} ${size}: ${(m.ms / 1000).toFixed(2)} s, ${(output.bytes / 1e6).toFixed(1)} MB${heapNote(m)} (run ${run + 1}/${options.runs})`,
        );
      } catch (error) {
        entry.error = String(error?.message ?? error).split('\n')[0];
        log(`snapshot ${c.id} ${size}: ERROR ${entry.error}`);
      }
    }
    save();
  }
  for (const { entry } of entries) finish(entry);
  // The source is unchanged by snapshots.
  await origin.call('verifyOriginal', SNAP_DB, size);

  // Restore each peer's last snapshot into a new database (a new name per run: nothing is deleted in this origin).
  const snapshotOf = {
    'evolve-restore': 'evolve-snapshot',
    'evolve-restore-plain': 'evolve-snapshot-plain',
    'dexie-import': 'dexie-export',
    'restore-floor': 'raw-ndjson',
  };
  const restoreEntries = restores.map((c) => ({ c, entry: record('restore', c, size, options.runs) }));
  for (let run = 0; run < options.runs; run++) {
    for (const { c, entry } of restoreEntries) {
      if (entry.error || entry.unavailable) continue;
      const ref = refs[snapshotOf[c.id]];
      if (ref === undefined) {
        entry.error = `no snapshot from ${snapshotOf[c.id]} to restore`;
        continue;
      }
      const target = `bench-restore-${c.id}-${run + 1}`;
      try {
        await origin.call('prepareRestore', c.id, size);
        const m = await measured(origin, () => origin.call('runRestore', c.id, target, ref));
        await origin.call('finishRestore', target, size);
        entry.samplesMs.push(m.ms);
        pushHeap(entry, m);
        entry.loadAverage1m.push(Number(m.load.toFixed(2)));
        entry.cpuSeconds.push(Object.fromEntries(Object.entries(m.cpu).map(([k, v]) => [k, Number(v.toFixed(2))])));
        log(`restore ${c.id} ${size}: ${(m.ms / 1000).toFixed(2)} s${heapNote(m)} (run ${run + 1}/${options.runs})`);
      } catch (error) {
        entry.error = String(error?.message ?? error).split('\n')[0];
        log(`restore ${c.id} ${size}: ERROR ${entry.error}`);
      }
    }
    save();
  }
  for (const { entry } of restoreEntries) finish(entry);
}

// ---- ratios -------------------------------------------------------------------------------------------------

/**
 * One ratio line. `kind`: 'max' (value must be <= target), 'min' (>= target), 'info' (no target).
 * `num`/`den` are case entries (or numbers); the value is num/den of medians unless `value` is given.
 */
function ratio(name, { num, den, value, kind, target, unit = 'x', note, metric = 'wall', missContext }) {
  const pick = (entry) =>
    metric === 'cpu' ? (entry.medianCpuSeconds > 0 ? entry.medianCpuSeconds : undefined) : entry.medianMs;
  let status;
  let bound = '';
  let v = value;
  if (v === undefined) {
    if (num === undefined || den === undefined) status = 'pending';
    else if (num.unavailable || den.unavailable) status = 'pending';
    else if (num.error || den.error || pick(num) === undefined || pick(den) === undefined) status = 'error';
    else {
      v = pick(num) / pick(den);
      // A case stopped at its time limit took at least that long: the ratio is a lower bound.
      if (num.stoppedAfter !== undefined) bound = '>';
      if (den.stoppedAfter !== undefined) bound = bound === '>' ? '?' : '<';
    }
  }
  if (status === undefined) {
    if (v === undefined || Number.isNaN(v)) status = 'error';
    else if (kind === 'info') status = 'info';
    else status = (kind === 'max' ? v <= target : v >= target) ? 'ok' : 'MISS';
  }
  const targetText = kind === 'info' ? '-' : `${kind === 'max' ? '<=' : '>='}${target}${unit === 'x' ? 'x' : unit}`;
  // With a bound, only the verdict the bound implies is certain: a lower bound can prove `>=` and disprove `<=`.
  if (bound !== '' && (status === 'ok' || status === 'MISS')) {
    const certain =
      bound === '>'
        ? kind === 'min'
          ? status === 'ok'
          : status === 'MISS'
        : bound === '<'
          ? kind === 'max'
            ? status === 'ok'
            : status === 'MISS'
          : false;
    if (!certain) status = 'unsure';
  }
  const reason = status === 'pending' ? (num?.unavailable ?? den?.unavailable) : undefined;
  const entry = {
    name,
    metric,
    value: v === undefined ? null : Number(v.toFixed(3)),
    ...(bound ? { bound } : {}),
    unit,
    target: targetText,
    status,
    ...(reason ? { reason } : {}),
    ...(note ? { note } : {}),
    ...(status === 'MISS' && missContext ? { context: missContext() } : {}),
  };
  results.ratios.push(entry);
  // Next to every timed target, the same ratio in CPU seconds (info): a check that load on the machine did not make it.
  if (
    metric === 'wall' &&
    kind !== 'info' &&
    unit === 'x' &&
    num !== undefined &&
    den !== undefined &&
    !num.unavailable &&
    value === undefined
  ) {
    ratio(`${name}_cpu`, { num, den, kind: 'info', unit, metric: 'cpu' });
  }
  return entry;
}

function computeRatios() {
  const S = options.size;
  const L = options.large;
  const m = (id, size = S) => findCase('migrate', id, size);
  const s = (id, size) => findCase('snapshot', id, size);
  const r = (id, size = S) => findCase('restore', id, size);
  const perRecord = (big, small, metric = 'wall') => {
    if (L === S) {
      const none = { unavailable: `--large ${L} equals --size: no larger size in this run` };
      return { num: none, den: none };
    }
    if (!big || !small) return { num: big, den: small };
    if (big.unavailable || small.unavailable) return { num: big, den: small };
    const pick = (e) => (metric === 'cpu' ? e.medianCpuSeconds : e.medianMs);
    if (!(pick(big) > 0) || !(pick(small) > 0)) return { num: big, den: small, metric };
    return { value: pick(big) / big.size / (pick(small) / small.size), metric };
  };
  const heap = (entry) => {
    if (!entry) return { num: undefined, den: undefined };
    if (entry.unavailable) return { num: entry, den: entry };
    if (!results.browser.heapMeasurable) {
      const none = { unavailable: `heap not measurable in ${results.browser.name}` };
      return { num: none, den: none };
    }
    if (entry.heapGrowthMaxMB === undefined) return { num: entry, den: { error: true } };
    return { value: entry.heapGrowthMaxMB };
  };
  const k = (n) => (n >= 1e6 ? `${n / 1e6}M` : `${n / 1e3}k`);
  // Why a floor target missed, measured: how far plain getAll+put itself is from this engine's write floor.
  const floorContext = () => {
    const raw = m('raw-getall-put');
    const floor = m('write-floor');
    if (!(raw?.medianMs > 0) || !(floor?.medianMs > 0)) return undefined;
    const cpu =
      raw.medianCpuSeconds > 0 && floor.medianCpuSeconds > 0 ? raw.medianCpuSeconds / floor.medianCpuSeconds : NaN;
    return `raw getAll+put here: ${(raw.medianMs / floor.medianMs).toFixed(2)}x the floor, cpu ${cpu.toFixed(2)}x; floor ${floor.perRecordUs.toFixed(1)} us/rec`;
  };
  // One part of a protected open (`medianSnapshotPartMs` or `medianUpgradePartMs`) against a whole case.
  const partRatio = (entry, part, alone) => {
    if (!(entry?.[part] > 0) || !(alone?.medianMs > 0)) return { num: entry, den: alone };
    return { value: entry[part] / alone.medianMs };
  };
  if (options.diagnose) {
    // Read-only walks against the plain read-only getAll walk, protected opens against the library's open without a
    // snapshot, the rest against plain getAll + put; each in wall time and in CPU seconds (the engine's processes),
    // which other load on the machine disturbs less.
    const baseOf = (id) =>
      id.startsWith('diag-snap-') ? 'evolve-1pass' : id.startsWith('diag-read-') ? 'diag-read-getall' : 'diag-base';
    for (const c of results.cases.filter((entry) => !['diag-base', 'diag-read-getall'].includes(entry.id))) {
      const base = baseOf(c.id);
      const name = `diagnose_${k(S)}_${c.id.replace(/-/g, '_')}_vs_${base.replace(/-/g, '_')}`;
      ratio(name, { num: c, den: m(base), kind: 'info' });
      ratio(`${name}_cpu`, { num: c, den: m(base), kind: 'info', metric: 'cpu' });
      // A protected open's migration after its snapshot, against the same open without one.
      if (c.medianUpgradePartMs !== undefined)
        ratio(`${name}_upgrade_part`, { ...partRatio(c, 'medianUpgradePartMs', m(base)), kind: 'info' });
    }
    return;
  }

  ratio(`migrate_${k(S)}_evolve1pass_vs_floor`, {
    missContext: floorContext,
    num: m('evolve-1pass'),
    den: m('write-floor'),
    kind: 'max',
    target: 1.1,
  });
  ratio(`migrate_${k(S)}_evolve_catchup_1to5_vs_floor`, {
    missContext: floorContext,
    num: m('evolve-catchup'),
    den: m('write-floor'),
    kind: 'max',
    target: 1.2,
    note: 'four pending versions of one record step each, fused into one pass',
  });
  ratio(`migrate_${k(S)}_dexie_vs_evolve1pass`, {
    num: m('dexie-modify'),
    den: m('evolve-1pass'),
    kind: 'min',
    target: 1.5,
  });
  ratio(`migrate_${k(S)}_evolve1pass_vs_raw_getall_put`, {
    num: m('evolve-1pass'),
    den: m('raw-getall-put'),
    kind: 'info',
  });
  ratio(`migrate_${k(S)}_raw_getall_put_vs_floor`, { num: m('raw-getall-put'), den: m('write-floor'), kind: 'info' });
  ratio(`migrate_${k(S)}_evolve1pass_with_snapshot_vs_floor`, {
    num: m('evolve-1pass-snap'),
    den: m('write-floor'),
    kind: 'info',
    note: 'default openDatabase options: OPFS snapshot before the upgrade',
  });
  ratio(`migrate_${k(S)}_evolve1pass_with_snapshot_vs_without`, {
    num: m('evolve-1pass-snap'),
    den: m('evolve-1pass'),
    kind: 'max',
    target: 1.15,
    note: 'the default snapshot is gzip',
  });
  // Where the snapshot's extra goes: its part of the protected open against the same snapshot taken on its own,
  // and the rest of the open against the same migration without a snapshot.
  const parts = (part, alone) => partRatio(m('evolve-1pass-snap'), part, alone);
  ratio(`migrate_${k(S)}_evolve1pass_with_snapshot_snapshot_part_vs_snapshot_alone`, {
    ...parts('medianSnapshotPartMs', s('evolve-snapshot', S)),
    kind: 'info',
    note: 'the snapshot inside the versionchange transaction vs snapshotDatabase',
  });
  ratio(`migrate_${k(S)}_evolve1pass_with_snapshot_upgrade_part_vs_without`, {
    ...parts('medianUpgradePartMs', m('evolve-1pass')),
    kind: 'info',
    note: 'the migration and commit after the snapshot vs the same open without one',
  });
  ratio(`migrate_${k(S)}_evolve3pass_vs_floor`, {
    missContext: floorContext,
    num: m('evolve-3pass'),
    den: m('write-floor'),
    kind: 'max',
    target: 1.15,
    note: 'three helpers, fused into one pass',
  });
  ratio(`migrate_${k(S)}_evolve3pass_vs_evolve1pass`, { num: m('evolve-3pass'), den: m('evolve-1pass'), kind: 'info' });
  ratio(`validate_${k(S)}_untouched_vs_evolve1pass`, {
    num: m('evolve-validate'),
    den: m('evolve-1pass'),
    kind: 'max',
    target: 0.25,
    note: 'a validator over a store no step rewrites: one read pass, against a rewrite pass of the same store',
  });
  ratio(`validate_${k(S)}_evolve1pass_validated_vs_evolve1pass`, {
    num: m('evolve-1pass-validated'),
    den: m('evolve-1pass'),
    kind: 'info',
    note: 'validation inside the walk: no extra read',
  });
  if (options.cursorSize === S) {
    ratio(`migrate_${k(S)}_raw_cursor_vs_evolve1pass`, {
      num: m('raw-cursor'),
      den: m('evolve-1pass'),
      kind: 'info',
      note: 'cursor: single run',
    });
    ratio(`migrate_${k(S)}_idb_cursor_vs_evolve1pass`, {
      num: m('idb-cursor'),
      den: m('evolve-1pass'),
      kind: 'info',
      note: 'cursor: single run',
    });
  }
  ratio(`migrate_per_record_${k(L)}_vs_${k(S)}_evolve1pass`, {
    ...perRecord(m('evolve-1pass', L), m('evolve-1pass', S)),
    kind: 'max',
    target: 1.3,
  });
  ratio(`migrate_per_record_${k(L)}_vs_${k(S)}_evolve1pass_cpu`, {
    ...perRecord(m('evolve-1pass', L), m('evolve-1pass', S), 'cpu'),
    kind: 'info',
  });
  ratio(`migrate_per_record_${k(L)}_vs_${k(S)}_raw_getall_put`, {
    ...perRecord(m('raw-getall-put', L), m('raw-getall-put', S)),
    kind: 'info',
  });
  ratio(`migrate_${k(L)}_evolve1pass_vs_raw_getall_put`, {
    num: m('evolve-1pass', L),
    den: m('raw-getall-put', L),
    kind: 'info',
  });

  for (const size of L === S ? [S] : [S, L]) {
    ratio(`snapshot_${k(size)}_evolve_vs_raw_ndjson`, {
      num: s('evolve-snapshot', size),
      den: s('raw-ndjson', size),
      kind: 'max',
      target: 1.5,
      note: 'gzip (default) vs raw uncompressed NDJSON; lossless checked by the restore round trip',
    });
    ratio(`snapshot_${k(size)}_evolve_plain_vs_raw_ndjson`, {
      num: s('evolve-snapshot-plain', size),
      den: s('raw-ndjson', size),
      kind: 'max',
      target: 1.25,
    });
    ratio(`snapshot_${k(size)}_evolve_gzip_vs_plain`, {
      num: s('evolve-snapshot', size),
      den: s('evolve-snapshot-plain', size),
      kind: 'info',
    });
    const bytes = (id) => s(id, size)?.bytes;
    ratio(`snapshot_${k(size)}_gzip_bytes_vs_raw_ndjson`, {
      value:
        bytes('evolve-snapshot') > 0 && bytes('raw-ndjson') > 0
          ? bytes('evolve-snapshot') / bytes('raw-ndjson')
          : undefined,
      kind: 'max',
      target: 0.35,
      note: 'file bytes, not time',
    });
    ratio(`snapshot_${k(size)}_dexie_vs_evolve`, {
      num: s('dexie-export', size),
      den: s('evolve-snapshot', size),
      kind: 'min',
      target: 2,
    });
  }
  ratio(`snapshot_per_record_${k(L)}_vs_${k(S)}_evolve`, {
    ...perRecord(s('evolve-snapshot', L), s('evolve-snapshot', S)),
    kind: 'max',
    target: 1.3,
  });
  ratio(`snapshot_per_record_${k(L)}_vs_${k(S)}_evolve_cpu`, {
    ...perRecord(s('evolve-snapshot', L), s('evolve-snapshot', S), 'cpu'),
    kind: 'info',
  });
  ratio(`restore_${k(S)}_dexie_vs_evolve`, {
    num: r('dexie-import'),
    den: r('evolve-restore'),
    kind: 'min',
    target: 1.5,
  });
  ratio(`restore_${k(S)}_evolve_vs_floor`, {
    num: r('evolve-restore'),
    den: r('restore-floor'),
    kind: 'max',
    target: 1.1,
    note: 'from the gzip file; floor: put of prebuilt records into a new store',
  });
  ratio(`restore_${k(S)}_evolve_plain_vs_floor`, {
    num: r('evolve-restore-plain'),
    den: r('restore-floor'),
    kind: 'info',
  });
  ratio(`restore_${k(S)}_dexie_vs_floor`, { num: r('dexie-import'), den: r('restore-floor'), kind: 'info' });
  ratio(`heap_migrate_${k(L)}_evolve1pass_peak_growth`, {
    ...heap(m('evolve-1pass', L)),
    kind: 'max',
    target: 64,
    unit: 'MB',
  });
  ratio(`heap_snapshot_${k(L)}_evolve_peak_growth`, {
    ...heap(s('evolve-snapshot', L)),
    kind: 'max',
    target: 64,
    unit: 'MB',
  });
  ratio(`heap_migrate_${k(L)}_raw_getall_put_peak_growth`, {
    ...heap(m('raw-getall-put', L)),
    kind: 'info',
    unit: 'MB',
  });
  ratio(`heap_snapshot_${k(L)}_raw_ndjson_peak_growth`, { ...heap(s('raw-ndjson', L)), kind: 'info', unit: 'MB' });
}

// ---- output -------------------------------------------------------------------------------------------------

function pad(text, width, right = false) {
  const t = String(text);
  return right ? t.padStart(width) : t.padEnd(width);
}

function printTable() {
  const header = [
    'section',
    'case',
    'records',
    'runs',
    'median s',
    'us/rec',
    'min-max s',
    'cpu s',
    'page cpu s',
    'heap MB',
    'file MB',
  ];
  const rows = results.cases.map((c) => {
    const status = c.unavailable ? `pending (${c.unavailable})` : c.error ? `ERROR: ${c.error}` : undefined;
    const runs = c.samplesMs.length === 1 && c.plannedRuns === 1 ? '1 (single)' : String(c.samplesMs.length);
    const stopped = c.stoppedAfter !== undefined;
    return [
      c.section,
      c.id,
      c.size.toLocaleString('en-US'),
      status ? '-' : runs,
      status ?? `${stopped ? '>' : ''}${(c.medianMs / 1000).toFixed(2)}`,
      status ? '' : stopped ? `${((c.medianMs * 1000) / c.stoppedAfter).toFixed(1)}*` : c.perRecordUs.toFixed(1),
      status ? '' : `${(Math.min(...c.samplesMs) / 1000).toFixed(2)}-${(Math.max(...c.samplesMs) / 1000).toFixed(2)}`,
      status || !(c.medianCpuSeconds > 0) ? '' : c.medianCpuSeconds.toFixed(2),
      status || !(c.medianCpuSeconds > 0) ? '' : c.medianRendererCpuSeconds.toFixed(2),
      status || c.heapGrowthMaxMB === undefined ? '' : c.heapGrowthMaxMB.toFixed(1),
      c.bytes === undefined ? '' : (c.bytes / 1e6).toFixed(1),
    ];
  });
  const widths = header.map((h, i) =>
    Math.max(
      h.length,
      ...rows.map((row) =>
        (row[4].startsWith('pending') || row[4].startsWith('ERROR')) && i === 4 ? 8 : String(row[i]).length,
      ),
    ),
  );
  const line = (cells) => cells.map((cell, i) => pad(cell, widths[i], i >= 2)).join('  ');
  console.log(line(header));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const row of rows) console.log(line(row).trimEnd());
  console.log(
    `us/rec = median / records; cpu s = median CPU seconds of all ${results.browser.name} processes (page cpu s: the page's ${results.browser.engine === 'webkit' ? 'WebProcess' : results.browser.engine === 'firefox' ? 'content process' : 'renderer'});`,
  );
  console.log(
    results.browser.heapMeasurable
      ? "heap MB = peak JS heap growth over a GC'd baseline (max over runs)."
      : `heap MB: ${results.heapMethod}.`,
  );
  for (const c of results.cases.filter((entry) => entry.stoppedAfter !== undefined)) {
    console.log(
      `>: ${c.id} hit the ${options.cursorLimit} s limit after ${c.stoppedAfter.toLocaleString('en-US')} of ${c.size.toLocaleString('en-US')} records and was rolled back; *: us per record done so far (the cost grows with the transaction).`,
    );
  }
  console.log('');
  for (const r of results.ratios) {
    const value =
      r.value === null ? 'n/a' : r.unit === 'MB' ? `${r.value.toFixed(1)}MB` : `${r.bound ?? ''}${r.value.toFixed(2)}x`;
    const why = r.reason ?? r.context;
    console.log(`RATIO ${r.name}=${value} target=${r.target} ${r.status}${why ? ` (${why})` : ''}`);
  }
}

// ---- main ---------------------------------------------------------------------------------------------------

async function main() {
  const outDir = mkdtempSync(path.join(os.tmpdir(), 'idb-evolve-bench-dist-'));
  const profile = mkdtempSync(path.join(os.tmpdir(), 'idb-evolve-bench-profile-'));
  const configFile = path.join(here, 'vite.config.ts');
  let server;
  const cleanup = async () => {
    await engine?.close().catch(() => {});
    await server?.close?.().catch?.(() => {});
    server?.httpServer?.close?.();
    rmSync(outDir, { recursive: true, force: true });
    rmSync(profile, { recursive: true, force: true });
  };
  for (const [signal, code] of [
    ['SIGINT', 130],
    ['SIGTERM', 143],
  ]) {
    process.once(signal, () => {
      log(`${signal}: stopping; partial results are in ${options.out}`);
      cleanup().finally(() => process.exit(code));
    });
  }
  try {
    log('building the bench page (vite)');
    await build({ configFile, build: { outDir, emptyOutDir: true } });
    server = await preview({
      configFile,
      build: { outDir },
      preview: { host: '127.0.0.1', port: 0, strictPort: false },
    });
    engine = await launchEngine(options.engine, { profile, log });
    middlewares = server.middlewares;
    const first = await openOrigin();
    const info = await first.call('info');
    const version = engine.versionOf(engine.version);
    results.browser = {
      engine: options.engine,
      name: engine.name,
      version,
      product: engine.version,
      userAgent: info.userAgent,
      executable: engine.executable,
      args: engine.args,
      driver: engine.driver,
      heapMeasurable: first.heap !== undefined,
    };
    if (first.heap === undefined) results.heapMethod = `not measurable in ${engine.name} (no CDP heap access)`;
    results.record = info.record;
    log(
      `${engine.name} ${version}; record ~${info.record.avgJsonBytes.toFixed(0)} JSON bytes; sizes ${options.size}/${options.large}, cursor cases at ${options.cursorSize}, ${options.runs} runs`,
    );
    for (const c of [...info.cases.snapshot, ...info.cases.restore])
      if (c.unavailable) log(`${c.id}: pending (${c.unavailable})`);

    await first.close();
    await runMigrations(info);
    if (!options.diagnose) {
      await runSnapshots(info, options.size, true);
      if (options.large !== options.size) await runSnapshots(info, options.large, false);
    }

    computeRatios();
    results.totalSeconds = (Date.now() - started) / 1000;
    save();
    console.log('');
    console.log(
      `idb-evolve bench — ${engine.name} ${version}, ${results.machine.cpus} CPUs (${results.machine.cpuModel}), ${results.generated}`,
    );
    const load = results.machine.loadAverage1mDuringRuns;
    console.log(
      `record ~${info.record.avgJsonBytes.toFixed(0)} bytes as JSON, one index; medians of ${options.runs} runs (${options.large.toLocaleString('en-US')}-record migrations: ${options.largeRuns}); cursor cases: 1 run, ${options.cursorLimit > 0 ? `stopped at ${options.cursorLimit} s` : 'no time limit'}`,
    );
    if (load)
      console.log(
        `1-min load average during the timed runs: ${load.min.toFixed(1)}-${load.max.toFixed(1)} (median ${load.median.toFixed(1)}) on ${results.machine.cpus} CPUs`,
      );
    console.log('');
    printTable();
    console.log('');
    console.log(
      `total ${(results.totalSeconds / 60).toFixed(1)} min; results in ${path.relative(process.cwd(), options.out)}`,
    );
  } finally {
    await cleanup();
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
