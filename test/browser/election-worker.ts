// A dedicated worker opening the database of an election test with the same plan as the page.
import { openDatabase } from '../../src/index.js';
import { electionPlan, type WorkerMessage } from './election-plan.js';

const post = (message: WorkerMessage): void => postMessage(message);

addEventListener('message', async (event: MessageEvent<{ name: string }>) => {
  let told = false;
  try {
    const { db, upgrade } = await openDatabase(event.data.name, electionPlan, {
      snapshots: false,
      onProgress: (progress) => {
        if (progress.phase !== 'step' || told) return;
        told = true;
        post({ type: 'upgrading' });
      },
    });
    post({ type: 'opened', upgraded: upgrade !== null, version: db.version });
    db.close();
  } catch (error) {
    post({ type: 'failed', code: String((error as { code?: unknown }).code) });
  }
});
