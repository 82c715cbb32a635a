// The `window.demo` API the e2e tests drive the page with. Everything returns plain data (it crosses
// page.evaluate), and nothing rejects for a library error: outcomes carry the error as data instead.
import type { Progress, RestoreReport, UpgradeReport } from '../src/index.js';
import type { DexieDemoApi } from './dexie-app.js';
import type { DemoPlanOptions } from './plan.js';
import type { ErrorData } from './shared.js';

/** Version and records per store of the demo database (version 0: it does not exist). */
export interface Counts {
  readonly version: number;
  readonly stores: Readonly<Record<string, number>>;
}

/** Options of an upgrade or dry run. */
export interface UpgradeOptions extends DemoPlanOptions {
  /** Upgrade with `snapshots: false` (default true: with the demo's snapshot policy). */
  readonly snapshots?: boolean;
}

/** What an upgrade, dry run, worker or service worker run ended with. */
export interface Outcome {
  readonly ok: boolean;
  readonly where: string;
  readonly report: UpgradeReport | null;
  /** Id of the snapshot taken before the upgrade, if one was. */
  readonly snapshotId: string | null;
  readonly error: ErrorData | null;
  readonly before: Counts;
  readonly after: Counts;
  /** First, middle and last note, before and after, compared as JSON: true when the data is unchanged. */
  readonly intact: boolean;
  readonly ms: number;
}

export interface SnapshotRow {
  readonly id: string;
  readonly database: string;
  readonly version: number;
  readonly reason: string;
  readonly created: string;
  readonly size: number | null;
  /** `gzip` (the default) or `none`. */
  readonly compression: string;
}

export interface LogEntry {
  readonly time: string;
  readonly kind: string;
  readonly text: string;
}

export interface DemoApi {
  readonly database: string;
  /** The Dexie app panel: a database Dexie upgrades under protectUpgrade, and its adoption into a plan. */
  readonly dexie: DexieDemoApi;
  /** The latest progress report of the running upgrade, snapshot or restore (null before any). */
  readonly progress: Progress | null;
  /** The writer of the last snapshot an upgrade on the page took (`opfs-writable`, `opfs-worker`, `indexeddb`). */
  readonly writer: string | null;
  /** Distinct `phase@version` values seen by the last upgrade, in order. */
  readonly phases: readonly string[];
  readonly log: readonly LogEntry[];
  /** How the latest upgrade, dry run or worker run ended (also one started by a click, or before a bfcache freeze). */
  readonly lastOutcome: Outcome | null;
  /** The release (plan's last version) this tab runs: `?release=N`, default the latest. */
  readonly runsRelease: number;
  /** Who upgrades as this tab last heard (Tabs panel). */
  readonly upgrader: 'none' | 'this tab' | 'another context';
  /** True once the stale-tab banner ("a new version is ready, reload") shows. */
  readonly stale: boolean;
  seed(count: number, options?: { readonly duplicateTags?: boolean }): Promise<Counts>;
  upgrade(target?: number, options?: UpgradeOptions): Promise<Outcome>;
  dryRun(target?: number, options?: UpgradeOptions): Promise<Outcome>;
  runInWorker(target?: number, options?: UpgradeOptions): Promise<Outcome>;
  runInServiceWorker(target?: number, options?: UpgradeOptions): Promise<Outcome>;
  counts(): Promise<Counts>;
  version(): Promise<number>;
  /** A record by store and key, JSON-friendly (undefined when absent). */
  read(store: string, key: IDBValidKey): Promise<unknown>;
  snapshots(): Promise<SnapshotRow[]>;
  /** Every file in the snapshot folder with its size, including partial and swap files listSnapshots hides. */
  snapshotFiles(): Promise<{ readonly name: string; readonly size: number }[]>;
  snapshotNow(): Promise<{ readonly ok: boolean; readonly id: string | null; readonly error: ErrorData | null }>;
  verify(id: string): Promise<{
    readonly ok: boolean;
    readonly counts: Readonly<Record<string, number>> | null;
    readonly error: ErrorData | null;
  }>;
  /** The exported file as text (for small snapshots). */
  exportText(id: string): Promise<string>;
  importText(
    text: string,
    fileName: string,
  ): Promise<{ readonly ok: boolean; readonly id: string | null; readonly error: ErrorData | null }>;
  deleteSnapshot(id: string): Promise<void>;
  restore(id: string): Promise<{
    readonly ok: boolean;
    readonly report: Omit<RestoreReport, 'snapshot'> | null;
    readonly error: ErrorData | null;
    readonly after: Counts;
  }>;
  /** Opens like an app's page load (the tab's release, told of upgrades elsewhere), without reading counts. */
  open(): Promise<{
    readonly ok: boolean;
    readonly upgraded: boolean;
    readonly version: number;
    readonly error: ErrorData | null;
  }>;
  /** Keeps a connection open: `library` (closes on versionchange) or `legacy` (ignores it, blocking upgrades). */
  hold(kind: 'library' | 'legacy'): Promise<number>;
  release(): void;
  estimate(): Promise<{ readonly usage: number; readonly quota: number }>;
}

declare global {
  interface Window {
    demo: DemoApi;
  }
}
