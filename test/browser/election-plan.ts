// The plan the election tests run in a page and in a worker at once: version 2 marks every note, slowly enough
// (about half a millisecond of work per record) for the other context to arrive mid-upgrade.
import { definePlan, updateRecords } from '../../src/index.js';

const stores = { notes: { keyPath: 'id' } };

function busy(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until) {
    // Synchronous work: it cannot let the transaction commit.
  }
}

export const electionPlan = definePlan({
  versions: [
    { version: 1, stores },
    {
      version: 2,
      stores,
      steps: [
        updateRecords(
          'notes',
          (note: { id: number }) => {
            busy(0.5);
            return { ...note, v: 2 };
          },
          { name: 'mark', batchSize: 20 },
        ),
      ],
    },
  ],
});

/** What a worker posts back: the first progress of its upgrade, then how its open ended. */
export type WorkerMessage =
  | { readonly type: 'upgrading' }
  | { readonly type: 'opened'; readonly upgraded: boolean; readonly version: number }
  | { readonly type: 'failed'; readonly code: string };
