import {
  indexChanged,
  keyChanged,
  type IndexLayout,
  type KeyPath,
  type NormalizedLayout,
  type NormalizedStore,
} from '../plan/layout.js';
import type { Plan, PlannedVersion } from '../plan/define-plan.js';
import type { Step } from '../upgrade/step-store.js';

const byName = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/** A Markdown code span that survives backticks in the text. */
function code(text: string): string {
  if (!text.includes('`')) return `\`${text}\``;
  const longest = Math.max(...(text.match(/`+/g) ?? []).map((run) => run.length));
  const fence = '`'.repeat(longest + 1);
  return `${fence} ${text} ${fence}`;
}

function keyPathText(keyPath: KeyPath): string {
  if (typeof keyPath !== 'string') return `[${keyPath.map(code).join(', ')}]`;
  return keyPath === '' ? 'the value itself' : code(keyPath);
}

function storeText(store: NormalizedStore): string {
  const key = store.keyPath === null ? 'out-of-line keys' : `keyPath ${keyPathText(store.keyPath)}`;
  return store.autoIncrement ? `${key}, autoIncrement` : key;
}

function indexText(index: Required<IndexLayout>): string {
  return `on ${keyPathText(index.keyPath)}${index.unique ? ', unique' : ''}${index.multiEntry ? ', multiEntry' : ''}`;
}

function layoutLines(layout: NormalizedLayout): string[] {
  const lines: string[] = [];
  for (const name of Object.keys(layout).sort(byName)) {
    const store = layout[name]!;
    lines.push(`- ${code(name)}: ${storeText(store)}`);
    for (const indexName of Object.keys(store.indexes).sort(byName)) {
      lines.push(`  - index ${code(indexName)} ${indexText(store.indexes[indexName]!)}`);
    }
  }
  return lines;
}

/** Layout changes from one version to the next, in a fixed order: renames, additions, removals, rebuilds, indexes. */
function changeLines(version: PlannedVersion): string[] {
  const after = version.layout;
  // Stores as the steps find them: renamed stores under their new names, with the layout they had.
  const { existing, rebuilt } = version.transition;
  const renamed = version.transition.renamed.map(({ from, to }) => `- renamed store ${code(from)} to ${code(to)}`);
  const added = layoutLines(Object.fromEntries(Object.entries(after).filter(([name]) => !existing.has(name)))).map(
    (line) => (line.startsWith('- ') ? `- added store ${line.slice(2)}` : line),
  );
  const removed = [...existing.keys()]
    .filter((name) => !(name in after))
    .sort(byName)
    .map((name) => `- removed store ${code(name)}`);
  const rebuilds: string[] = [];
  const indexes: string[] = [];
  for (const name of Object.keys(after).sort(byName)) {
    const old = existing.get(name);
    const now = after[name]!;
    if (old === undefined) continue;
    if (rebuilt.has(name)) {
      rebuilds.push(
        `- rebuilt store ${code(name)}: ${keyChanged(old, now) ? `${storeText(old)} → ${storeText(now)}` : `key unchanged (${storeText(now)})`}`,
      );
    }
    for (const index of [...new Set([...Object.keys(old.indexes), ...Object.keys(now.indexes)])].sort(byName)) {
      const was = old.indexes[index];
      const is = now.indexes[index];
      const label = code(`${name}.${index}`);
      if (was === undefined) indexes.push(`- added index ${label} ${indexText(is!)}`);
      else if (is === undefined) indexes.push(`- removed index ${label}`);
      else if (indexChanged(was, is)) indexes.push(`- changed index ${label}: ${indexText(was)} → ${indexText(is)}`);
    }
  }
  return [...renamed, ...added, ...removed, ...rebuilds, ...indexes];
}

function stepLine(step: Step, position: number): string {
  const structure = step.structure;
  const stores =
    step.stores.length === 0
      ? 'no stores'
      : `${step.stores.length === 1 ? 'store' : 'stores'} ${step.stores.map(code).join(', ')}`;
  const what =
    structure?.kind === 'rename-store'
      ? `renames store ${code(structure.from)} to ${code(structure.to)}`
      : structure?.kind === 'rebuild-store'
        ? `rebuilds store ${code(structure.store)}${structure.transform === undefined ? '' : ' through a transform'}`
        : `uses ${stores}`;
  return `${position + 1}. ${code(step.name)}: ${what}`;
}

function versionSection(version: PlannedVersion, previous: PlannedVersion | undefined): string[] {
  const lines = [`## Version ${version.version}`, ''];
  if (version.description !== undefined && version.description.trim() !== '')
    lines.push(version.description.trim(), '');
  if (previous === undefined) {
    const stores = layoutLines(version.layout);
    lines.push(...(stores.length === 0 ? ['Stores: none.'] : ['Stores:', '', ...stores]), '');
  } else {
    const changes = changeLines(version);
    lines.push(...(changes.length === 0 ? ['Layout: unchanged.'] : ['Layout changes:', '', ...changes]), '');
    lines.push(
      ...(version.steps.length === 0 ? ['Steps: none.'] : ['Steps, in order:', '', ...version.steps.map(stepLine)]),
      '',
    );
  }
  const validators = Object.keys(version.validators)
    .sort(byName)
    .map((store) => `${code(store)} (${version.validators[store]!['~standard'].vendor})`);
  const scope = version.validate === 'written' ? ' (records its steps write only)' : '';
  lines.push(
    `Validators: ${validators.length === 0 ? 'none' : validators.join(', ')}${validators.length === 0 ? '' : scope}.`,
    '',
  );
  for (const alternative of version.alternatives) {
    const steps = alternative.steps.map(stepLine);
    lines.push(
      `Alternative layout ${code(alternative.name)}, accepted and brought to this one on the next upgrade:`,
      '',
      ...layoutLines(alternative.layout),
      '',
      ...(steps.length === 0 ? [] : ['Its steps, in order:', '', ...steps, '']),
    );
  }
  const down = version.down === undefined ? [] : Object.keys(version.down).sort(byName).map(code);
  lines.push(
    version.down === undefined
      ? 'Down transforms: none declared.'
      : `Down transforms: ${down.length === 0 ? 'declared, no store needs one' : down.join(', ')}.`,
    '',
  );
  return lines;
}

/**
 * Describes a plan in Markdown for review: per version, its description, stores and indexes added, removed and
 * changed (keyPath, unique, multiEntry, autoIncrement), renamed and rebuilt stores, steps in the order they run,
 * and which stores have validators (with their vendor) and down transforms. The first version lists its whole
 * layout. The output depends only on the plan: names are sorted, so it can be committed and diffed.
 *
 * @example
 * ```ts
 * await writeFile('docs/database.md', describePlan(plan))
 * ```
 */
export function describePlan(plan: Plan): string {
  const versions = plan.versions;
  const lines = ['# Database plan', ''];
  lines.push(`Versions: ${versions.map((v) => v.version).join(', ')} (latest ${plan.latest}).`, '');
  if (plan.seed !== undefined) lines.push(`Seed, on fresh installs only: ${code(plan.seed.name)}.`, '');
  versions.forEach((version, i) => {
    lines.push(...versionSection(version, versions[i - 1]));
  });
  return `${lines.join('\n').trimEnd()}\n`;
}
