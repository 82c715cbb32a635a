// Rendering of the demo's panels: the plan, upgrade reports, typed errors and the intact check. Plain DOM.
import type { Plan, Progress, UpgradeReport } from '../src/index.js';
import { describePlan } from '../src/tooling/index.js';
import type { Counts, Outcome } from './api.js';
import type { ErrorData } from './shared.js';

export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attributes: Record<string, string> = {},
  ...children: (Node | string)[]
): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) element.setAttribute(name, value);
  element.append(...children);
  return element;
}

export const fmt = (n: number): string => n.toLocaleString('en');
export const fmtMs = (ms: number): string => (ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(2)} s`);

export function fmtBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  const units = ['KB', 'MB', 'GB', 'TB'];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(value < 10 ? 1 : 0)} ${units[unit]}`;
}

export function countsText(c: Counts): string {
  if (c.version === 0) return 'absent';
  const stores = Object.entries(c.stores).map(([name, n]) => `${name} ${fmt(n)}`);
  return [`v${c.version}`, ...stores].join(' · ');
}

export function describeProgress(p: Progress): string {
  const parts: string[] = [p.phase];
  if (p.version !== undefined) parts.push(`v${p.version}`);
  if (p.step !== undefined) parts.push(p.step);
  if (p.store !== undefined) parts.push(p.index === undefined ? p.store : `${p.store}.${p.index}`);
  parts.push(`${fmt(p.done)} / ${fmt(p.total)} ${p.unit}`);
  return parts.join(' · ');
}

function chips(items: readonly string[], prefix: string, kind: string): HTMLElement[] {
  return items.map((item) => h('span', { class: `chip ${kind}` }, `${prefix}${item}`));
}

function reportTable(report: UpgradeReport): HTMLElement {
  const body = h('tbody');
  for (const version of report.versions) {
    const layout = h(
      'td',
      {},
      ...chips(version.storesCreated, '+ store ', 'add'),
      ...chips(version.storesDeleted, '− store ', 'del'),
      ...chips(
        version.storesRenamed.map(([from, to]) => `${from} → ${to}`),
        'rename ',
        'mod',
      ),
      ...chips(version.storesRebuilt, 'rebuild ', 'mod'),
      ...chips(version.indexesCreated, '+ index ', 'add'),
      ...chips(version.indexesDeleted, '− index ', 'del'),
    );
    const steps = h(
      'td',
      {},
      ...version.steps.map((step) => {
        const counts = `visited ${fmt(step.visited)} · updated ${fmt(step.updated)} · deleted ${fmt(step.deleted)} · written ${fmt(step.written)}`;
        return h(
          'div',
          { class: 'step' },
          h('code', {}, step.name),
          h('span', { class: 'muted' }, ` ${counts} · ${fmtMs(step.ms)}`),
        );
      }),
    );
    body.append(
      h('tr', {}, h('td', {}, `v${version.version}`), layout, steps, h('td', { class: 'num' }, fmtMs(version.ms))),
    );
  }
  const head = h(
    'thead',
    {},
    h('tr', {}, h('th', {}, 'version'), h('th', {}, 'layout'), h('th', {}, 'steps'), h('th', {}, 'ms')),
  );
  return h('table', { class: 'report' }, head, body);
}

// Always shown, so that a missing context field is visible as such.
const CONTEXT_FIELDS = new Set(['code', 'version', 'step', 'store', 'key']);

function errorView(error: ErrorData): HTMLElement {
  const list = h('dl', { class: 'error-fields' });
  const cause =
    error.cause === undefined
      ? undefined
      : typeof error.cause === 'string'
        ? error.cause
        : `${error.cause.name}: ${error.cause.message}`;
  const fields: [string, string | number | undefined][] = [
    ['name', error.name],
    ['code', error.code],
    ['version', error.version],
    ['step', error.step],
    ['store', error.store],
    ['key', error.key],
    ['index', error.index],
    ['indexKey', error.indexKey],
    ['primaryKeys', error.primaryKeys?.join(', ')],
    ['issues', error.issues?.join('; ')],
    ['snapshotId', error.snapshotId],
    ['message', error.message],
    ['cause', cause],
  ];
  for (const [name, value] of fields) {
    if (value === undefined && !CONTEXT_FIELDS.has(name)) continue;
    list.append(h('dt', {}, name), h('dd', { 'data-field': name }, value === undefined ? '—' : String(value)));
  }
  return list;
}

/** The Result panel: the report of a successful run, or the typed error and the intact check of a failed one. */
export function renderOutcome(target: HTMLElement, outcome: Outcome): void {
  target.className = '';
  target.replaceChildren();
  if (outcome.ok) {
    const report = outcome.report;
    const title =
      report === null
        ? `${outcome.where}: nothing to do, already at v${outcome.after.version}`
        : `${outcome.where}: v${report.oldVersion} → v${report.newVersion}${report.dryRun ? ' (dry run, rolled back)' : ''} in ${fmtMs(report.ms)}`;
    target.append(h('p', { class: 'result-title ok' }, '✓ ', title));
    if (outcome.snapshotId)
      target.append(h('p', { class: 'muted' }, 'snapshot before the upgrade: ', h('code', {}, outcome.snapshotId)));
    if (report?.dryRun) {
      const verdict = outcome.intact ? '✓ database unchanged: ' : '✗ database changed: ';
      target.append(h('p', { class: outcome.intact ? 'ok' : 'bad' }, verdict, countsText(outcome.after)));
    }
    if (report !== null) target.append(reportTable(report));
    return;
  }
  const error = outcome.error!;
  target.append(
    h(
      'p',
      { class: 'result-title bad' },
      `✗ ${outcome.where} failed: ${error.name}${error.code ? ` (${error.code})` : ''}`,
    ),
  );
  target.append(errorView(error));
  const compared = `first, last${error.key ? ' and failing' : ''} notes compared`;
  target.append(
    h(
      'p',
      { class: outcome.intact ? 'ok intact' : 'bad intact' },
      outcome.intact ? '✓ data intact: ' : '✗ data changed: ',
      `before ${countsText(outcome.before)}; after ${countsText(outcome.after)}; ${compared}`,
    ),
  );
}

/** The Plan panel: each version's stores, indexes and steps. */
export function renderPlan(container: HTMLElement, plan: Plan): void {
  container.replaceChildren();
  for (const version of plan.versions) {
    const stores = h('ul', { class: 'stores' });
    for (const [name, store] of Object.entries(version.layout)) {
      const key = store.keyPath === null ? 'out-of-line key' : `keyPath ${JSON.stringify(store.keyPath)}`;
      const indexes = Object.entries(store.indexes).map(([indexName, index]) => {
        const flags = [index.unique ? 'unique' : '', index.multiEntry ? 'multiEntry' : ''].filter(Boolean).join(', ');
        return h(
          'li',
          {},
          h('code', {}, indexName),
          ` on ${JSON.stringify(index.keyPath)}${flags ? ` (${flags})` : ''}`,
        );
      });
      const keyText = ` ${key}${store.autoIncrement ? ', autoIncrement' : ''}`;
      stores.append(
        h(
          'li',
          {},
          h('strong', {}, name),
          h('span', { class: 'muted' }, keyText),
          h('ul', { class: 'indexes' }, ...indexes),
        ),
      );
    }
    const steps =
      version.steps.length === 0
        ? [h('li', { class: 'muted' }, 'no steps')]
        : version.steps.map((step) => h('li', {}, h('code', {}, step.name)));
    container.append(
      h(
        'article',
        { class: 'version', 'data-version': String(version.version) },
        h('h3', {}, `v${version.version}`),
        h('p', { class: 'description' }, version.description ?? ''),
        stores,
        h('h4', {}, 'steps'),
        h('ol', { class: 'steps' }, ...steps),
      ),
    );
  }
  // What changes from version to version, as the library documents a plan for code review.
  container.append(
    h(
      'details',
      { class: 'plan-markdown' },
      h('summary', {}, 'Plan as Markdown (describePlan)'),
      h('pre', {}, describePlan(plan)),
    ),
  );
}
