// What a human changed under backlog/ while tend ran. An item moved or deleted while its agent
// ran is taken by hand: the agent is stopped, and the human's change is committed as it is
// instead of the phase's result. Other changes by hand are committed as they are.
import { commitMessage } from '../core/transition.js';
import { decideHandChange, type HandChange } from '../core/decide.js';
import { pipelineOf } from '../core/scheduler.js';
import { writeFileAtomic } from '../edges/store.js';
import { DONE, type Item, type Snapshot } from '../core/backlog.js';
import { serializeItem, updateItem } from '../core/item.js';
import { asChanges } from './agent-changes.js';
import { KEPT_FROM_EVERYONE } from '../core/engine-keys.js';
import { committedData, findHandChanges, frontmatterChanges } from './hand-edits.js';
import type { RunState } from './run-state.js';
import { carryOut } from './writer.js';
import { forgetReviewed, removeWorktree } from '../edges/workspace.js';
import { itemLogDir } from '../edges/state-dir.js';

/**
 * The items whose job's phase folder the snapshot shows moved away, or removed: taken by hand,
 * so their agents are to be stopped. `running`: the jobs' items and phases; `skip`: items taken
 * already, or whose job is past its agent (moving them is the job's doing, not a person's).
 */
export function takenByHand(
  snapshot: Snapshot,
  running: ReadonlyMap<string, string>,
  skip: (id: string) => boolean,
): { id: string; note: string }[] {
  const taken: { id: string; note: string }[] = [];
  for (const [id, phase] of running) {
    // done/'s items are known by their ids alone.
    const now = snapshot.items.find((i) => i.id === id)?.location ?? (snapshot.done.has(id) ? DONE : undefined);
    if (now === phase || skip(id)) continue;
    // Left invalid by a human mid-edit: the agent goes on; the transition waits for a fix.
    if (!now && snapshot.invalid.some((i) => i.id === id && i.location === phase)) continue;
    taken.push({
      id,
      note: `${id} was ${now ? `moved to ${now}/` : 'removed'} by hand: its agent is stopped`,
    });
  }
  return taken;
}

/**
 * Commit each change made by hand outside the items of `activeAtStart`. `removedWhileRunning`:
 * items found gone when their agent was done, with its phase; `withDone`: look inside done/ too.
 * Returns whether there were any, and the removals committed (for the loop to forget).
 */
export async function commitHandChanges(
  run: RunState,
  snapshot: Snapshot,
  activeAtStart: ReadonlySet<string>,
  withDone: boolean,
): Promise<{ changed: boolean; seen: string[] }> {
  const seen: string[] = [];
  const removedWhileRunning = run.removedWhileRunning;
  for (const change of await findHandChanges(run.root, snapshot, activeAtStart, withDone)) {
    const ranIn = change.kind === 'removed' ? removedWhileRunning.get(change.id) : undefined;
    seen.push(change.id);
    await commitHandChange(run, change, ranIn).catch((err: unknown) =>
      run.reporter.warn(`${change.id}: ${err instanceof Error ? err.message : String(err)}`),
    );
  }
  return { changed: seen.length > 0, seen };
}

// A moved item is requeued in its new phase from scratch; an edit or a removal is committed as it
// is (a removed item's worktree goes with it).
async function commitHandChange(run: RunState, change: HandChange, ranIn: string | undefined): Promise<void> {
  if (change.kind === 'edited' && change.item)
    change.summary = await putBackEngineKeys(run, change.item, change.summary);
  const pipeline = change.item ? pipelineOf(change.item, run.config) : undefined;
  const decided = decideHandChange(change, ranIn, pipeline);
  if ('decision' in decided) {
    await run.apply(decided.item, decided.decision);
    return;
  }
  if (change.kind === 'removed') {
    const warn = (message: string) => run.reporter.warn(message);
    await removeWorktree(run.root, change.id, run.config.settings, itemLogDir(run.root, change.id), run.signal, {
      warn,
    });
    await forgetReviewed(run.root, change.id);
  }
  const { transition } = decided;
  if (await carryOut(run.target, { paths: change.paths, message: commitMessage(transition) }))
    run.committed(transition);
}

/**
 * The keys tend keeps (status, attempts, owner, ...) of an item no agent works on, changed in its
 * item.md by someone else (a person, or an agent that wrote into another item): put back as tend
 * last committed them, with a warning on the item, so they never steer the run. The rest of the
 * edit is the person's and is kept. Returns the commit's summary.
 */
async function putBackEngineKeys(run: RunState, item: Item, summary: string): Promise<string> {
  const before = await committedData(run.root, item.file);
  if (!before) return summary;
  const restore: Record<string, unknown> = {};
  const changed: Record<string, unknown> = {};
  for (const key of KEPT_FROM_EVERYONE) {
    if (JSON.stringify(before[key]) === JSON.stringify(item.parsed.data[key])) continue;
    restore[key] = before[key];
    changed[key] = item.parsed.data[key];
  }
  if (Object.keys(restore).length === 0) return summary;
  const rest = frontmatterChanges({ ...before, ...changed }, item.parsed.data);
  const warning = `${frontmatterChanges(restore, changed)} by hand or by an agent: tend keeps these keys; put back`;
  await writeFileAtomic(
    run.root,
    item.file,
    serializeItem(updateItem(item.parsed, { ...asChanges(restore), warning })),
  );
  run.reporter.warn(`${item.id}: ${warning} in ${item.file}`);
  return `${rest ? `edited by hand (${rest}); ` : ''}${frontmatterChanges(restore, changed)} put back`;
}
