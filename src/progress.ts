/**
 * Phases reported by `onProgress`, in the order an open goes through them: `snapshot` (records written to the
 * backup), per version `layout` (stores in place), `index` (one index built), `step` or `seed` (records walked),
 * `validate` (records read to check them against the version's validators, when no step walked the store whole),
 * `check` (the layout compared with the plan); a restore reports `verify` (bytes of the file checked) then
 * `restore` (records loaded).
 */
export type ProgressPhase =
  | 'snapshot'
  | 'layout'
  | 'index'
  | 'step'
  | 'seed'
  | 'validate'
  | 'check'
  | 'verify'
  | 'restore';

/**
 * One progress event, the same shape for opens, dry runs, snapshots and restores. Within a phase `done` grows to
 * `total`, and the last event of every phase has `done === total`, so a progress bar never ends short or empty.
 * An index build reports `done: 0` before and `done: 1` after: the engine itself gives nothing while it builds.
 */
export interface Progress {
  readonly phase: ProgressPhase;
  /** What `done` and `total` count. */
  readonly unit: 'records' | 'stores' | 'indexes' | 'bytes';
  /** The plan version concerned (the installed one for `snapshot`). */
  readonly version?: number;
  readonly step?: string;
  readonly stepIndex?: number;
  readonly store?: string;
  readonly index?: string;
  readonly done: number;
  readonly total: number;
}

/** Receives {@link Progress} events. */
export type ProgressCallback = (progress: Progress) => void;
