// The moves a plan asks for that need no agent: intake from the inbox, approvals, blocks. Each is
// one commit; each returns what happened (anything committed makes the snapshot stale) for the
// loop to fold into what it knows.
import type { Item } from '../core/backlog.js';
import { filesOpenForWriting } from '../edges/open-files.js';
import { decideApproval, decideBlock, decideIntake } from '../core/decide.js';
import { triageOf } from './phase.js';
import { nothingYet, type Happened, type RunState } from './run-state.js';
import { pipelineOf, type Plan } from '../core/scheduler.js';

/**
 * Move inbox items into the first phase of their pipeline, with the fields tend keeps. A file a
 * process still has open for writing is left until it is closed (`writing`, for the loop to keep;
 * `wasWriting`, what the last look found), so nothing written after intake goes to a file that is
 * no longer there.
 */
export async function takeIn(
  run: RunState,
  items: Item[],
  wasWriting: ReadonlySet<string>,
): Promise<Happened & { writing: ReadonlySet<string> }> {
  const writing = filesOpenForWriting(
    run.root,
    items.map((i) => i.file),
  );
  for (const file of writing) {
    if (!wasWriting.has(file)) run.reporter.info(`${file} is still being written; taken in once it is closed`);
  }
  const happened = nothingYet();
  for (const item of items) {
    if (run.signal.aborted) break;
    if (writing.has(item.file)) continue;
    const firstPhase = pipelineOf(item, run.config)?.phases[0];
    if (!firstPhase) continue;
    await run.attempt(happened, item, decideIntake(item, firstPhase.name));
  }
  return { ...happened, writing };
}

/** Move on the items a human has approved. */
export async function approve(run: RunState, approved: Plan['approved']): Promise<Happened> {
  const happened = nothingYet();
  for (const { item, pipeline, phase } of approved) {
    const triage = await triageOf(run.root, item, phase);
    await run.attempt(happened, item, decideApproval(item, pipeline, phase, run.config, triage));
  }
  return happened;
}

/**
 * Move the items that cannot go on without a human to blocked/. A dependency may be missing from
 * one snapshot only because it is being moved: an item is blocked for a missing id only when two
 * reads in a row agree. `suspected`: the items the last read found missing a dependency; the
 * result's `suspected` is this read's, and `recheck` is true when one was left for now.
 */
export async function block(
  run: RunState,
  blocks: Plan['block'],
  suspected: ReadonlySet<string>,
): Promise<Happened & { recheck: boolean; suspected: Set<string> }> {
  const missingNow = new Set(blocks.filter((b) => b.missingDependency).map((b) => b.item.id));
  const stillSuspected = new Set([...suspected].filter((id) => missingNow.has(id)));
  const happened = nothingYet();
  let recheck = false;
  for (const { item, reason, missingDependency } of blocks) {
    if (missingDependency && !stillSuspected.has(item.id)) {
      stillSuspected.add(item.id);
      recheck = true;
      continue;
    }
    await run.attempt(happened, item, decideBlock(item, reason));
  }
  return { ...happened, recheck, suspected: stillSuspected };
}
