// The tabs scenarios in Firefox ESR, driven by puppeteer-core over WebDriver BiDi (playwright-core cannot drive stock
// Firefox): two tabs where one holds a legacy connection and the other upgrades, then a third arriving mid-upgrade,
// and a stale tab. Every scenario ends with the data of one clean upgrade and no call pending.
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import puppeteer, { type Browser, type Page } from 'puppeteer-core';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { makeNote, uidOf } from '../demo/plan';
import { assertExecutable, FIREFOX_BINARY } from '../test/browser-env/engines';
import { startDemoServer, type DemoServer } from './harness';

const RECORDS = Number(process.env.E2E_TABS_RECORDS) > 0 ? Number(process.env.E2E_TABS_RECORDS) : 20_000;

/** The note with `id` as the demo plan leaves it at v4. */
function noteAtV4(id: number) {
  const { id: _id, body, created, legacy: _legacy, ...rest } = makeNote(id);
  return { ...rest, uid: uidOf(id), text: body, created: Date.parse(created), pinned: false };
}

let server: DemoServer;
let browser: Browser;
let profile: string;

beforeAll(async () => {
  assertExecutable(FIREFOX_BINARY, 'Firefox ESR', 'firefox-esr');
  server = await startDemoServer();
  profile = mkdtempSync(path.join(os.tmpdir(), 'idb-evolve-e2e-firefox-'));
  browser = await puppeteer.launch({
    browser: 'firefox',
    executablePath: FIREFOX_BINARY,
    headless: true,
    userDataDir: profile,
    timeout: 60_000,
  });
});

afterAll(async () => {
  await browser?.close();
  await server?.close();
  if (profile !== undefined) rmSync(profile, { recursive: true, force: true });
});

async function openTab(url: string): Promise<Page> {
  const page = await browser.newPage();
  page.on('pageerror', (error) => console.error(`[page error] ${(error as Error).message}`));
  await page.goto(url);
  await page.waitForFunction(() => typeof window.demo === 'object', { timeout: 30_000 });
  return page;
}

const logText = (page: Page): Promise<string> =>
  page.evaluate(() => window.demo.log.map((e) => `${e.kind}: ${e.text}`).join('\n'));

describe('idb-evolve demo tabs in Firefox ESR', () => {
  test('two tabs: a legacy connection blocks the upgrading tab, which is told, until it is released', async () => {
    const first = await openTab(server.url);
    await first.evaluate(() => window.demo.seed(300));
    const second = await openTab(server.url);
    expect(await first.evaluate(() => window.demo.hold('legacy'))).toBe(1);
    const upgrading = second.evaluate(() => window.demo.open());
    await second.waitForFunction(() => window.demo.log.some((e) => e.kind === 'blocked'), { timeout: 30_000 });
    await first.evaluate(() => window.demo.release());
    expect(await upgrading).toMatchObject({ ok: true, upgraded: true, version: 4 });
    expect(await first.evaluate(() => window.demo.counts())).toEqual({
      version: 4,
      stores: { notes: 300, labels: 12 },
    });
    await first.close();
    await second.close();
  });

  test(`three tabs and a stale one: one elected upgrader, one arriving mid-upgrade (${RECORDS} records)`, async () => {
    const upgrader = await openTab(server.url);
    await upgrader.evaluate((n) => window.demo.seed(n), RECORDS);
    const stale = await openTab(`${server.url}?release=2`);
    expect(await stale.evaluate(() => window.demo.hold('legacy'))).toBe(1);
    const upgrading = upgrader.evaluate(() => window.demo.open());
    await upgrader.waitForFunction(() => window.demo.log.some((e) => e.kind === 'blocked'), { timeout: 30_000 });
    await stale.evaluate(() => window.demo.release());
    await upgrader.waitForFunction(() => window.demo.progress?.phase === 'step', { timeout: 60_000, polling: 20 });

    const late = await openTab(server.url);
    const arriving = late.evaluate(() => window.demo.open());
    await late.waitForFunction(() => window.demo.upgrader === 'another context', { timeout: 60_000, polling: 20 });
    const [up, arrived] = await Promise.all([upgrading, arriving]);
    expect(up).toMatchObject({ ok: true, upgraded: true, version: 4 });
    expect(arrived).toMatchObject({ ok: true, upgraded: false, version: 4 });
    expect(await logText(late)).toMatch(/elsewhere: the other context finished: v4/);
    expect(await late.evaluate(() => window.demo.counts())).toEqual({
      version: 4,
      stores: { notes: RECORDS, labels: 12 },
    });
    for (const id of [1, RECORDS]) {
      expect(await late.evaluate((key) => window.demo.read('notes', key), uidOf(id))).toEqual(noteAtV4(id));
    }

    const refused = await stale.evaluate(() => window.demo.open());
    expect(refused.error).toMatchObject({ name: 'OpenError', code: 'downgrade' });
    expect(await stale.evaluate(() => window.demo.stale && !document.getElementById('stale-banner')!.hidden)).toBe(
      true,
    );
    for (const page of [upgrader, stale, late]) await page.close();
  });
});
