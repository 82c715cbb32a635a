// End-to-end scenarios on the demo page in Debian's Chromium (headless, driven over CDP by playwright-core).
// Each scenario starts its own browser on a fresh profile; screenshots land in e2e/artifacts/.
// Record counts can be changed through the environment (E2E_*_RECORDS) to probe larger databases.
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import type { Page } from 'playwright-core';
import { makeNote, uidOf } from '../demo/plan';
import {
  ARTIFACTS,
  launchChromium,
  openDemo,
  screenshot,
  startBuiltDemo,
  startDemoServer,
  waitForProgress,
  type Chromium,
  type DemoServer,
} from './harness';

const size = (name: string, fallback: number): number => {
  const value = Number(process.env[name]);
  return Number.isSafeInteger(value) && value > 0 ? value : fallback;
};

const SMALL = size('E2E_SMALL_RECORDS', 3000);
const PAGE_CLOSE = size('E2E_PAGE_CLOSE_RECORDS', 200_000);
const KILL = size('E2E_KILL_RECORDS', 50_000);
const BFCACHE = size('E2E_BFCACHE_RECORDS', 10_000);
const TABS = size('E2E_TABS_RECORDS', 20_000);
const SW = size('E2E_SW_RECORDS', 5000);
const fmtCount = (n: number): string => n.toLocaleString('en');

/** The note with `id` as the demo plan leaves it at v4. */
function noteAtV4(id: number) {
  const { id: _id, body, created, legacy: _legacy, ...rest } = makeNote(id);
  return { ...rest, uid: uidOf(id), text: body, created: Date.parse(created), pinned: false };
}

let server: DemoServer;
const browsers = new Set<Chromium>();

async function browser(options?: Parameters<typeof launchChromium>[0]): Promise<Chromium> {
  const launched = await launchChromium(options);
  browsers.add(launched);
  return launched;
}

async function done(chrome: Chromium): Promise<void> {
  browsers.delete(chrome);
  await chrome.close();
}

const logText = (page: Page): Promise<string> =>
  page.evaluate(() => window.demo.log.map((e) => `${e.kind}: ${e.text}`).join('\n'));

beforeAll(async () => {
  server = await startDemoServer();
});

afterAll(async () => {
  for (const chrome of browsers) await chrome.close().catch(() => {});
  await server?.close();
});

describe('idb-evolve demo in Chromium', () => {
  test('happy upgrade: dry run changes nothing, upgrade v1 → v4 migrates every record, snapshot verifies', async () => {
    const chrome = await browser();
    try {
      const page = await openDemo(chrome.context, server.url);
      await screenshot(page, '00-demo-initial');
      const seeded = await page.evaluate((n) => window.demo.seed(n), SMALL);
      expect(seeded).toEqual({ version: 1, stores: { notes: SMALL, tags: 12 } });

      const dry = await page.evaluate(() => window.demo.dryRun(4));
      expect(dry.ok, JSON.stringify(dry.error)).toBe(true);
      expect(dry.report?.dryRun).toBe(true);
      expect(dry.report?.versions.map((v) => v.version)).toEqual([2, 3, 4]);
      expect(dry.after).toEqual(dry.before);
      expect(dry.intact).toBe(true);
      expect(await page.evaluate(() => window.demo.snapshots())).toEqual([]);

      const outcome = await page.evaluate(() => window.demo.upgrade(4));
      expect(outcome.ok, JSON.stringify(outcome.error)).toBe(true);
      expect(outcome.after).toEqual({ version: 4, stores: { labels: 12, notes: SMALL } });
      const [v2, v3, v4] = outcome.report!.versions;
      expect(v2?.storesRenamed).toEqual([['tags', 'labels']]);
      expect(v2?.indexesCreated).toEqual(['labels.byName']);
      expect(v2?.steps.map((s) => [s.name, s.updated])).toEqual([
        ['renameStore(tags -> labels)', 0],
        ['renameField(notes: body -> text)', SMALL],
      ]);
      expect(v3?.indexesCreated).toEqual(['notes.byTag']);
      expect(v3?.steps.map((s) => [s.name, s.updated])).toEqual([
        ['convertField(notes: created)', SMALL],
        ['dropField(notes: legacy)', SMALL],
        ['defaultValue(notes: pinned)', SMALL],
      ]);
      expect(v4?.storesRebuilt).toEqual(['notes']);
      expect(v4?.steps[0]?.written).toBe(SMALL);
      const phases = await page.evaluate(() => window.demo.phases);
      expect(phases.indexOf('snapshot@1')).toBe(0);
      expect(await page.evaluate(() => window.demo.writer)).toBe('opfs-writable');
      expect(phases).toContain('step@4');

      for (const id of [1, Math.ceil(SMALL / 2), SMALL]) {
        expect(await page.evaluate((key) => window.demo.read('notes', key), uidOf(id))).toEqual(noteAtV4(id));
      }
      expect(await page.evaluate(() => window.demo.read('labels', 3))).toEqual({ id: 3, name: 'errands' });

      const snapshots = await page.evaluate(() => window.demo.snapshots());
      expect(snapshots).toHaveLength(1);
      expect(snapshots[0]).toMatchObject({ id: outcome.snapshotId, version: 1, reason: 'upgrade' });
      // gzip by default: a tenth or so of the ~190 bytes of NDJSON per note, and more than nothing.
      expect(snapshots[0]!.compression).toBe('gzip');
      expect(snapshots[0]!.size).toBeGreaterThan(SMALL * 5);
      expect(snapshots[0]!.size).toBeLessThan(SMALL * 150);
      const verified = await page.evaluate((id) => window.demo.verify(id), outcome.snapshotId!);
      expect(verified).toEqual({ ok: true, counts: { notes: SMALL, tags: 12 }, error: null });
      await screenshot(page, '01-happy-upgrade');
    } finally {
      await done(chrome);
    }
  });

  test('injected failure leaves data intact: typed error names version, step, store and key', async () => {
    const chrome = await browser();
    try {
      const page = await openDemo(chrome.context, server.url);
      await page.evaluate((n) => window.demo.seed(n), SMALL);
      const record = Math.min(1234, SMALL);
      const outcome = await page.evaluate((k) => window.demo.upgrade(4, { fail: { version: 3, record: k } }), record);
      expect(outcome.ok).toBe(false);
      expect(outcome.error).toMatchObject({
        name: 'UpgradeError',
        code: 'step_failed',
        typed: true,
        version: 3,
        step: 'convertField(notes: created)',
        store: 'notes',
        key: String(record),
        cause: { name: 'Error', message: `Injected failure at record ${record} of version 3` },
      });
      expect(outcome.after).toEqual({ version: 1, stores: { notes: SMALL, tags: 12 } });
      expect(outcome.intact).toBe(true);
      expect(await page.evaluate((id) => window.demo.read('notes', id), record)).toEqual(makeNote(record));
      // The snapshot was written inside the aborted transaction's lifetime but is a complete file of v1: kept.
      const snapshots = await page.evaluate(() => window.demo.snapshots());
      expect(snapshots.map((s) => s.version)).toEqual([1]);
      await page.waitForSelector('#result .intact.ok');
      await screenshot(page, '02-injected-failure');

      // Failing in v4's rebuild, after v2 and v3 ran in full: all of it is rolled back.
      const late = await page.evaluate(() => window.demo.upgrade(4, { fail: { version: 4, record: 77 } }));
      expect(late.error).toMatchObject({
        name: 'UpgradeError',
        code: 'step_failed',
        version: 4,
        step: 'rebuildStore(notes)',
        store: 'notes',
        key: '77',
      });
      expect(late.after).toEqual(late.before);
      expect(late.intact).toBe(true);

      // IndexedDB's own failure: v2's unique index over duplicate tag names aborts with a bare ConstraintError, which
      // the library explains (a dry-run replay that reads the tags first).
      await page.evaluate(() => window.demo.seed(500, { duplicateTags: true }));
      const duplicate = await page.evaluate(() => window.demo.upgrade(4));
      expect(duplicate.ok).toBe(false);
      expect(duplicate.error).toMatchObject({
        name: 'UpgradeError',
        code: 'constraint_violation',
        typed: true,
        cause: { name: 'ConstraintError' },
        store: 'labels',
        index: 'byName',
      });
      // Named: the duplicated tag name and the two tags holding it.
      expect(duplicate.error?.primaryKeys).toHaveLength(2);
      expect(duplicate.error?.indexKey).toMatch(/^".+"$/);
      expect(duplicate.after).toEqual({ version: 1, stores: { notes: 500, tags: 12 } });
      expect(duplicate.intact).toBe(true);
      await screenshot(page, '02b-unique-index-failure');
    } finally {
      await done(chrome);
    }
  });

  test('Dexie app: protectUpgrade reports a failed Dexie upgrade, restores an idb one that committed anyway; adoption', async () => {
    const chrome = await browser();
    try {
      const page = await openDemo(chrome.context, server.url);
      expect(await page.evaluate(() => window.demo.dexie.create(200))).toEqual({
        version: 10,
        stores: { friends: 200 },
      });
      // Dexie aborts its own failed upgrade: nothing to restore, and the snapshot of version 10 is there.
      const thrown = await page.evaluate(() => window.demo.dexie.upgrade('dexie-throws'));
      expect(thrown).toMatchObject({
        ok: false,
        committed: false,
        restored: false,
        intact: true,
        error: { name: 'ProtectedOpenError', code: 'protected_open_failed', typed: true },
        after: { version: 10, stores: { friends: 200 } },
      });
      expect(thrown.snapshotId).toMatch(/@10@/);
      // idb's callback awaited a timer: IndexedDB committed half the upgrade; it is detected and undone.
      const late = await page.evaluate(() => window.demo.dexie.upgrade('idb-await'));
      expect(late).toMatchObject({
        ok: false,
        committed: true,
        restored: true,
        intact: true,
        error: { name: 'ProtectedOpenError', code: 'protected_upgrade_failed' },
        after: { version: 10, stores: { friends: 200 } },
      });
      await page.waitForSelector('#dexie-result.error');
      await screenshot(page, '02c-dexie-committed-anyway-restored');
      const works = await page.evaluate(() => window.demo.dexie.upgrade('works'));
      expect(works).toMatchObject({ ok: true, backup: 'taken', after: { version: 20, stores: { friends: 200 } } });
      const code = await page.evaluate(() => window.demo.dexie.adopt());
      expect(code).toContain('version: 20,');
      expect(code).toContain("friends: {\n          keyPath: 'id',\n          autoIncrement: true,");
      expect(code).toContain("Dexie: IndexedDB version 20 is Dexie's db.version(2)");
    } finally {
      await done(chrome);
    }
  });

  test(`page closed mid-upgrade of ${PAGE_CLOSE.toLocaleString('en')} records, then reopened: old version, all data; the upgrade then completes`, async () => {
    const chrome = await browser();
    try {
      const page = await openDemo(chrome.context, server.url);
      const seeded = await page.evaluate((n) => window.demo.seed(n), PAGE_CLOSE);
      expect(seeded.stores.notes).toBe(PAGE_CLOSE);
      await page.evaluate(() => void window.demo.upgrade(2));
      await waitForProgress(page, 'step', 2000, 240_000);
      const progress = await page.evaluate(() => window.demo.progress);
      expect(progress).toMatchObject({ phase: 'step', version: 2 });
      await screenshot(page, '03-page-close-before');
      await page.close();

      const again = await openDemo(chrome.context, server.url);
      expect(await again.evaluate(() => window.demo.counts())).toEqual({
        version: 1,
        stores: { notes: PAGE_CLOSE, tags: 12 },
      });
      for (const id of [1, progress!.done, PAGE_CLOSE]) {
        expect(await again.evaluate((key) => window.demo.read('notes', key), id)).toEqual(makeNote(id));
      }
      const outcome = await again.evaluate(() => window.demo.upgrade(2));
      expect(outcome.ok, JSON.stringify(outcome.error)).toBe(true);
      expect(outcome.after).toEqual({ version: 2, stores: { labels: 12, notes: PAGE_CLOSE } });
      const { body, ...rest } = makeNote(PAGE_CLOSE);
      expect(await again.evaluate((key) => window.demo.read('notes', key), PAGE_CLOSE)).toEqual({
        ...rest,
        text: body,
      });
      await screenshot(again, '03-page-close-after');
    } finally {
      await done(chrome);
    }
  }, 420_000);

  test('browser killed mid-snapshot: no partial snapshot listed, upgrade not run', async () => {
    const profile = mkdtempSync(path.join(os.tmpdir(), 'idb-evolve-e2e-persistent-'));
    try {
      const first = await browser({ userDataDir: profile });
      const page = await openDemo(first.context, server.url);
      await page.evaluate((n) => window.demo.seed(n), KILL);
      await page.evaluate(() => void window.demo.upgrade(4));
      await waitForProgress(page, 'snapshot', 1000, 60_000);
      const progress = await page.evaluate(() => window.demo.progress);
      const files = await page.evaluate(() => window.demo.snapshotFiles());
      browsers.delete(first);
      await first.kill();
      console.log(`killed Chromium at ${JSON.stringify(progress)}; snapshot folder then held ${JSON.stringify(files)}`);
      expect(progress?.phase).toBe('snapshot');
      expect(progress!.done).toBeLessThan(KILL);

      const second = await browser({ userDataDir: profile });
      try {
        const reopened = await openDemo(second.context, server.url);
        expect(await reopened.evaluate(() => window.demo.snapshots())).toEqual([]);
        const leftovers = await reopened.evaluate(() => window.demo.snapshotFiles());
        console.log(
          `after the relaunch the snapshot folder holds ${JSON.stringify(leftovers)} (listSnapshots hides them)`,
        );
        // Listing swept them: the killed writer's lock went with its browser.
        expect(leftovers).toEqual([]);
        expect(await reopened.evaluate(() => window.demo.counts())).toEqual({
          version: 1,
          stores: { notes: KILL, tags: 12 },
        });
        for (const id of [1, KILL]) {
          expect(await reopened.evaluate((key) => window.demo.read('notes', key), id)).toEqual(makeNote(id));
        }
        await screenshot(reopened, '04-killed-mid-snapshot');
      } finally {
        await done(second);
      }
    } finally {
      rmSync(profile, { recursive: true, force: true });
    }
  });

  test('second tab blocking: blocked in the upgrading tab, versionchange in the other', async () => {
    const chrome = await browser();
    try {
      const first = await openDemo(chrome.context, server.url);
      await first.evaluate(() => window.demo.seed(300));
      // The visible "Open second tab" link.
      const [second] = await Promise.all([chrome.context.waitForEvent('page'), first.click('#second-tab')]);
      await second.setViewportSize({ width: 1280, height: 1000 });
      await second.waitForFunction(() => typeof window.demo === 'object');

      // A legacy connection ignores versionchange: the upgrade waits, blocked, until it is released.
      expect(await first.evaluate(() => window.demo.hold('legacy'))).toBe(1);
      await second.evaluate(() => void window.demo.upgrade(2));
      await second.waitForFunction(() => window.demo.log.some((e) => e.kind === 'blocked'));
      await first.waitForFunction(() => window.demo.log.some((e) => e.kind === 'versionchange'));
      expect(await second.evaluate(() => window.demo.lastOutcome)).toBeNull();
      await screenshot(second, '05-tabs-blocked');
      await screenshot(first, '05-tabs-versionchange-legacy');
      await first.evaluate(() => window.demo.release());
      await second.waitForFunction(() => window.demo.lastOutcome !== null);
      const outcome = await second.evaluate(() => window.demo.lastOutcome);
      expect(outcome?.ok, JSON.stringify(outcome?.error)).toBe(true);
      expect(outcome?.after.version).toBe(2);

      // A connection opened by the library closes itself on versionchange and reports it: nothing blocks.
      expect(await first.evaluate(() => window.demo.hold('library'))).toBe(2);
      const next = await second.evaluate(() => window.demo.upgrade(3));
      expect(next.ok, JSON.stringify(next.error)).toBe(true);
      expect(
        await first.evaluate(() => window.demo.log.filter((e) => e.kind === 'versionchange').map((e) => e.text)),
      ).toEqual([
        expect.stringContaining('legacy connection'),
        expect.stringContaining('the library closed the held connection: another tab wants v3'),
      ]);
      // Only the legacy connection blocked; the library's own closed in time.
      expect(await second.evaluate(() => window.demo.log.filter((e) => e.kind === 'blocked').length)).toBe(1);
      await screenshot(first, '05-tabs-versionchange-library');
    } finally {
      await done(chrome);
    }
  });

  test(`three tabs and a stale one: a legacy connection, one elected upgrader, one arriving mid-upgrade (${fmtCount(TABS)} records)`, async () => {
    const chrome = await browser();
    try {
      const upgrader = await openDemo(chrome.context, server.url);
      await upgrader.evaluate((n) => window.demo.seed(n), TABS);
      // A tab of the previous release (loaded before v3 and v4 were deployed) holds a legacy connection.
      const stale = await openDemo(chrome.context, `${server.url}?release=2`);
      expect(await stale.evaluate(() => window.demo.runsRelease)).toBe(2);
      expect(await stale.evaluate(() => window.demo.hold('legacy'))).toBe(1);

      const upgrading = upgrader.evaluate(() => window.demo.open());
      await upgrader.waitForFunction(() => window.demo.log.some((e) => e.kind === 'blocked'));
      await stale.evaluate(() => window.demo.release());
      await waitForProgress(upgrader, 'step');

      // Arrives while the upgrade runs: waits on the upgrade lock, shows the upgrader's progress, runs nothing.
      const late = await openDemo(chrome.context, server.url);
      const arriving = late.evaluate(() => window.demo.open());
      await late.waitForFunction(() => window.demo.upgrader === 'another context');
      await late.waitForFunction(() => document.getElementById('tabs-upgrader')?.textContent?.includes('/') === true);
      await screenshot(late, '06-tabs-upgrading-elsewhere');
      const [up, arrived] = await Promise.all([upgrading, arriving]);
      expect(up, JSON.stringify(up.error)).toMatchObject({ ok: true, upgraded: true, version: 4 });
      expect(arrived, JSON.stringify(arrived.error)).toMatchObject({ ok: true, upgraded: false, version: 4 });
      expect(await logText(late)).toMatch(/elsewhere: another tab, worker or service worker is upgrading/);
      expect(await logText(late)).toMatch(/elsewhere: the other context finished: v4/);
      expect(await late.evaluate(() => window.demo.log.filter((e) => e.kind === 'hook').length)).toBe(0);

      // The data is what one clean upgrade gives.
      expect(await late.evaluate(() => window.demo.counts())).toEqual({
        version: 4,
        stores: { notes: TABS, labels: 12 },
      });
      for (const id of [1, Math.floor(TABS / 2), TABS]) {
        expect(await late.evaluate((key) => window.demo.read('notes', key), uidOf(id))).toEqual(noteAtV4(id));
      }

      // The stale tab is refused (typed) and shows the reload banner rather than working half.
      const refused = await stale.evaluate(() => window.demo.open());
      expect(refused.error).toMatchObject({ name: 'OpenError', code: 'downgrade' });
      expect(await stale.evaluate(() => window.demo.stale)).toBe(true);
      expect(await stale.isVisible('#stale-banner')).toBe(true);
      await screenshot(stale, '06-tabs-stale-banner');
    } finally {
      await done(chrome);
    }
  });

  test(`production build: the one-file service worker upgrades, a page opened meanwhile is told and runs nothing (${fmtCount(SW)} records)`, async () => {
    const built = await startBuiltDemo();
    const chrome = await browser();
    try {
      const page = await openDemo(chrome.context, built.url);
      await page.evaluate((n) => window.demo.seed(n), SW);
      const inWorker = page.evaluate(() => window.demo.runInServiceWorker(4));
      await waitForProgress(page, 'step');
      const other = await openDemo(chrome.context, built.url);
      const opening = other.evaluate(() => window.demo.open());
      await other.waitForFunction(() => window.demo.upgrader === 'another context');
      const [upgraded, opened] = await Promise.all([inWorker, opening]);
      expect(upgraded.ok, JSON.stringify(upgraded.error)).toBe(true);
      expect(upgraded.where).toBe('service worker');
      expect(upgraded.after).toEqual({ version: 4, stores: { notes: SW, labels: 12 } });
      expect(opened, JSON.stringify(opened.error)).toMatchObject({ ok: true, upgraded: false, version: 4 });
      expect(await logText(other)).toMatch(/elsewhere: the other context finished: v4/);
      for (const id of [1, SW]) {
        expect(await other.evaluate((key) => window.demo.read('notes', key), uidOf(id))).toEqual(noteAtV4(id));
      }
    } finally {
      await done(chrome);
      await built.close();
    }
  });

  test('quota shrunk via CDP (Storage.overrideQuotaForOrigin): typed snapshot error, database untouched', async () => {
    const chrome = await browser();
    try {
      const page = await openDemo(chrome.context, server.url);
      await page.evaluate((n) => window.demo.seed(n), SMALL);
      const cdp = await chrome.context.newCDPSession(page);
      const { usage } = await page.evaluate(() => window.demo.estimate());
      // Room for less than the gzip snapshot (about 38 KB here; 64 KiB took a plain one).
      await cdp.send('Storage.overrideQuotaForOrigin', { origin: server.origin, quotaSize: usage + 4 * 1024 });
      const shrunk = await page.evaluate(() => window.demo.estimate());
      // Since Chrome 138 estimate() reports an artificial quota; the override still applies to writes.
      console.log(
        `quota overridden to ${usage + 4 * 1024} bytes; estimate() now says usage ${shrunk.usage}, quota ${shrunk.quota}`,
      );

      const outcome = await page.evaluate(() => window.demo.upgrade(4));
      expect(outcome.ok).toBe(false);
      expect(outcome.error).toMatchObject({
        name: 'SnapshotError',
        code: 'snapshot_quota',
        typed: true,
        cause: { name: 'QuotaExceededError' },
      });
      expect(outcome.after).toEqual({ version: 1, stores: { notes: SMALL, tags: 12 } });
      expect(outcome.intact).toBe(true);
      expect(await page.evaluate(() => window.demo.snapshots())).toEqual([]);
      await screenshot(page, '06-quota');

      // With the quota back, the same upgrade goes through.
      await cdp.send('Storage.overrideQuotaForOrigin', { origin: server.origin });
      const retried = await page.evaluate(() => window.demo.upgrade(2));
      expect(retried.ok, JSON.stringify(retried.error)).toBe(true);
      expect(retried.after.version).toBe(2);
    } finally {
      await done(chrome);
    }
  });

  test('restore after a committed but wrong migration (export, delete, import, restore)', async () => {
    const chrome = await browser();
    try {
      const page = await openDemo(chrome.context, server.url);
      await page.evaluate((n) => window.demo.seed(n), SMALL);
      const wrong = await page.evaluate(() => window.demo.upgrade(3, { buggy: true }));
      expect(wrong.ok, JSON.stringify(wrong.error)).toBe(true);
      const broken = (await page.evaluate(() => window.demo.read('notes', 7))) as { created: number };
      expect(Number.isNaN(broken.created)).toBe(true);

      // Round trip the snapshot through a file with the visible controls: Download, Delete, Import.
      const id = wrong.snapshotId!;
      const row = page.locator(`#snapshots tr[data-id="${id}"]`);
      const [download] = await Promise.all([
        page.waitForEvent('download'),
        row.getByRole('button', { name: 'Download' }).click(),
      ]);
      expect(download.suggestedFilename()).toBe(id);
      const file = path.join(ARTIFACTS, 'downloads', id);
      await download.saveAs(file);
      // gzip by default: the NDJSON inside is the same, and the file a tenth of the size.
      const text = gunzipSync(readFileSync(file)).toString('utf8');
      expect(text.split('\n')[0]).toContain('"format":"idb-evolve-snapshot"');
      await row.getByRole('button', { name: 'Delete' }).click();
      await row.waitFor({ state: 'detached' });
      expect(await page.evaluate(() => window.demo.snapshots())).toEqual([]);
      await page.setInputFiles('#import', file);
      // The file keeps its name, so the snapshot keeps its id.
      await row.waitFor();
      expect((await page.evaluate(() => window.demo.snapshots())).map((s) => s.id)).toEqual([id]);
      // A corrupted file is refused and not stored.
      const corrupt = await page.evaluate(
        (content) => window.demo.importText(content.replace('"v":{', '"v":{"x":1,'), 'corrupt.ndjson'),
        text,
      );
      expect(corrupt.ok).toBe(false);
      expect(corrupt.error).toMatchObject({ name: 'SnapshotError', code: 'snapshot_corrupt' });
      expect(await page.evaluate(() => window.demo.snapshots())).toHaveLength(1);

      const restored = await page.evaluate((snapshot) => window.demo.restore(snapshot), id);
      expect(restored.ok, JSON.stringify(restored.error)).toBe(true);
      expect(restored.report).toMatchObject({ version: 1, recreated: true, counts: { notes: SMALL, tags: 12 } });
      expect(restored.after).toEqual({ version: 1, stores: { notes: SMALL, tags: 12 } });
      expect(await page.evaluate(() => window.demo.read('notes', 7))).toEqual(makeNote(7));
      await screenshot(page, '07-restore');

      const fixed = await page.evaluate(() => window.demo.upgrade(4));
      expect(fixed.ok, JSON.stringify(fixed.error)).toBe(true);
      expect(await page.evaluate((key) => window.demo.read('notes', key), uidOf(7))).toEqual(noteAtV4(7));
    } finally {
      await done(chrome);
    }
  });

  test('a migration run inside a dedicated Worker and inside a Service Worker', async () => {
    const chrome = await browser();
    try {
      const page = await openDemo(chrome.context, server.url);
      await page.evaluate((n) => window.demo.seed(n), SMALL);
      const failed = await page.evaluate(() => window.demo.runInWorker(4, { fail: { version: 2, record: 10 } }));
      expect(failed.ok).toBe(false);
      expect(failed.error).toMatchObject({
        name: 'UpgradeError',
        code: 'step_failed',
        typed: true,
        version: 2,
        step: 'renameField(notes: body -> text)',
        key: '10',
      });
      expect(failed.intact).toBe(true);

      const inWorker = await page.evaluate(() => window.demo.runInWorker(4));
      expect(inWorker.ok, JSON.stringify(inWorker.error)).toBe(true);
      expect(inWorker.where).toBe('worker');
      expect(inWorker.after).toEqual({ version: 4, stores: { labels: 12, notes: SMALL } });
      expect(inWorker.snapshotId).toMatch(/@1@.*@upgrade@/);
      expect(await page.evaluate((key) => window.demo.read('notes', key), uidOf(SMALL))).toEqual(noteAtV4(SMALL));
      await screenshot(page, '08-worker');

      await page.evaluate((n) => window.demo.seed(n), SMALL);
      const inServiceWorker = await page.evaluate(() => window.demo.runInServiceWorker(4));
      expect(inServiceWorker.ok, JSON.stringify(inServiceWorker.error)).toBe(true);
      expect(inServiceWorker.after).toEqual({ version: 4, stores: { labels: 12, notes: SMALL } });
      // OPFS is there in a Service Worker too: the upgrade was protected by a snapshot written from it.
      expect(inServiceWorker.snapshotId).toMatch(/@1@.*@upgrade@/);
      expect(await page.evaluate((key) => window.demo.read('notes', key), uidOf(1))).toEqual(noteAtV4(1));
      expect(await logText(page)).toContain('service worker: reports v4');
      // One per run that reached the snapshot phase: the failed worker run's complete v1 snapshot is kept too.
      expect((await page.evaluate(() => window.demo.snapshots())).map((s) => s.version)).toEqual([1, 1, 1]);
      await screenshot(page, '08-service-worker');
    } finally {
      await done(chrome);
    }
  });

  test('back/forward cache does not hang the next open', async () => {
    // The back/forward cache is on by default in headless Chromium 156; the flag keeps it on where it is not.
    const chrome = await browser({ extraArgs: ['--enable-features=BackForwardCache'] });
    try {
      const page = await openDemo(chrome.context, server.url);
      await page.evaluate((n) => window.demo.seed(n), BFCACHE);
      await page.evaluate(() => void window.demo.upgrade(4));
      await waitForProgress(page, 'step', 1000, 60_000);

      // The next page opens the same database as it loads: it must not wait for the frozen page's upgrade.
      await page.goto(`${server.origin}/away.html`);
      const away = await page
        .waitForFunction(() => window.awayOpen, undefined, { timeout: 20_000 })
        .then((handle) => handle.jsonValue());
      expect(away).toMatchObject({ version: 1 });
      expect(away!.error).toBeUndefined();
      await screenshot(page, '09-bfcache-away');

      // A page restored from the back/forward cache fires pageshow, not load.
      await page.goBack({ waitUntil: 'commit' });
      await page.waitForFunction(() => typeof window.demo === 'object');
      const restoredFromCache = await page.evaluate(() =>
        window.demo.log.some((e) => e.kind === 'pageshow' && e.text.startsWith('restored from')),
      );
      console.log(
        `back navigation ${restoredFromCache ? 'restored the page from the back/forward cache' : 'reloaded the page (not from the back/forward cache)'}`,
      );
      expect(restoredFromCache).toBe(true);
      // The frozen page's upgrade was aborted on pagehide and reported as such once the page came back.
      await page.waitForFunction(() => window.demo.lastOutcome !== null, undefined, { timeout: 20_000 });
      expect(await page.evaluate(() => window.demo.lastOutcome?.error)).toMatchObject({
        name: 'UpgradeError',
        code: 'upgrade_aborted',
      });
      expect(await page.evaluate(() => window.demo.counts())).toEqual({
        version: 1,
        stores: { notes: BFCACHE, tags: 12 },
      });
      const outcome = await page.evaluate(() => window.demo.upgrade(2));
      expect(outcome.ok, JSON.stringify(outcome.error)).toBe(true);
      expect(outcome.after.version).toBe(2);
      await screenshot(page, '09-bfcache-back');
    } finally {
      await done(chrome);
    }
  });
});
