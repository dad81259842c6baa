// The moves a plan asks for that need no agent: intake from the inbox, approvals, blocks. Each is
// one commit; each returns whether anything changed, since the snapshot is stale once it has.
import type { Item } from '../core/backlog.js';
import { filesOpenForWriting } from '../edges/writers.js';
import { decideApproval, decideBlock, decideIntake } from '../core/decide.js';
import { triageOf } from './phase.js';
import type { RunState } from './run-state.js';
import { pipelineOf, type Plan } from '../core/scheduler.js';

/**
 * Move inbox items into the first phase of their pipeline, with the fields tend keeps. A file a
 * process still has open for writing is left until it is closed (`run.writing`), so nothing
 * written after intake goes to a file that is no longer there.
 */
export async function takeIn(run: RunState, items: Item[]): Promise<boolean> {
  const writing = filesOpenForWriting(
    run.root,
    items.map((i) => i.file),
  );
  for (const file of writing) {
    if (!run.writing.has(file)) run.reporter.info(`${file} is still being written; taken in once it is closed`);
  }
  run.writing = writing;
  let changed = false;
  for (const item of items) {
    if (run.signal.aborted) break;
    if (writing.has(item.file)) continue;
    const pipeline = pipelineOf(item, run.config);
    const firstPhase = pipeline?.phases[0];
    if (!pipeline || !firstPhase) continue;
    changed = (await run.attempt(item, decideIntake(item, firstPhase.name))) || changed;
  }
  return changed;
}

/** Move on the items a human has approved. */
export async function approve(run: RunState, approved: Plan['approved']): Promise<boolean> {
  let changed = false;
  for (const { item, pipeline, phase } of approved) {
    changed =
      (await run.attempt(
        item,
        decideApproval(item, pipeline, phase, run.config, await triageOf(run.root, item, phase)),
      )) || changed;
  }
  return changed;
}

/**
 * Move the items that cannot go on without a human to blocked/. `recheck` is true when one was
 * left for now because its dependency is missing from this snapshot only.
 */
export async function block(run: RunState, blocks: Plan['block']): Promise<{ changed: boolean; recheck: boolean }> {
  const missingNow = new Set(blocks.filter((b) => b.missingDependency).map((b) => b.item.id));
  for (const id of run.suspectMissing) if (!missingNow.has(id)) run.suspectMissing.delete(id);
  let changed = false;
  let recheck = false;
  for (const { item, reason, missingDependency } of blocks) {
    // A dependency may be missing from one snapshot only because it is being moved: block
    // for a missing id only when two reads in a row agree.
    if (missingDependency && !run.suspectMissing.has(item.id)) {
      run.suspectMissing.add(item.id);
      recheck = true;
      continue;
    }
    if (await run.attempt(item, decideBlock(item, reason))) {
      run.summary.blocked.push(item.id);
      changed = true;
    }
  }
  return { changed, recheck };
}
