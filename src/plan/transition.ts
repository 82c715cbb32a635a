import { PlanError } from '../errors.js';
import type { Step } from '../upgrade/step-store.js';
import type { NormalizedLayout, NormalizedStore } from './layout.js';

/** A `renameStore` step of a version, in step order. */
export interface StoreRename {
  readonly from: string;
  readonly to: string;
  /** The step that renames it, for errors. */
  readonly step: string;
}

/**
 * How one version's steps move stores around: computed (and checked) once by `definePlan`, then read by the
 * upgrade (which renames before the layout diff), `describePlan` and the downgrade (which follows renames back).
 */
export interface VersionTransition {
  /** `renameStore` steps, in order. */
  readonly renamed: readonly StoreRename[];
  /** Stores a `rebuildStore` step recreates. */
  readonly rebuilt: ReadonlySet<string>;
  /** The stores the steps find, by their name after the renames, with the layout they had before the version. */
  readonly existing: ReadonlyMap<string, NormalizedStore>;
  /** The name `store` (as named at this version) had before the version's renames. */
  nameBefore(store: string): string;
}

/** No store moves: the transition of the first version. */
export const NO_TRANSITION: VersionTransition = {
  renamed: [],
  rebuilt: new Set(),
  existing: new Map(),
  nameBefore: (store) => store,
};

/**
 * The transition of a version from the layout `before` to `after`: renames must move an existing store to a free
 * name the version declares, rebuilds must name a store that exists before and after. Throws a PlanError otherwise.
 */
export function versionTransition(
  before: NormalizedLayout,
  after: NormalizedLayout,
  steps: readonly Step[],
  version: number,
): VersionTransition {
  const existing = new Map(Object.entries(before));
  const renamed: StoreRename[] = [];
  const rebuilt = new Set<string>();
  steps.forEach((step, stepIndex) => {
    const structure = step.structure;
    const fail = (store: string, message: string): never => {
      throw new PlanError('unknown_store', message, { version, step: step.name, stepIndex, store });
    };
    if (structure?.kind === 'rename-store') {
      const source = existing.get(structure.from);
      if (source === undefined) {
        fail(structure.from, `Cannot rename store "${structure.from}": it does not exist before version ${version}`);
      }
      if (existing.has(structure.to) || !(structure.to in after)) {
        fail(
          structure.to,
          `Cannot rename store "${structure.from}" to "${structure.to}": the new name must be free before and declared at version ${version}`,
        );
      }
      existing.delete(structure.from);
      existing.set(structure.to, source!);
      renamed.push({ from: structure.from, to: structure.to, step: step.name });
    } else if (structure?.kind === 'rebuild-store') {
      if (!existing.has(structure.store) || !(structure.store in after)) {
        fail(
          structure.store,
          `Cannot rebuild store "${structure.store}": it must exist before and at version ${version}`,
        );
      }
      rebuilt.add(structure.store);
    }
  });
  const nameBefore = (store: string): string =>
    renamed.reduceRight((name, rename) => (rename.to === name ? rename.from : name), store);
  return Object.freeze({ renamed: Object.freeze(renamed), rebuilt, existing, nameBefore });
}
