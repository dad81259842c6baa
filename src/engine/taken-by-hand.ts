// What a human changed under backlog/ while tend ran. An item moved or deleted while its agent
// ran is taken by hand: the agent is stopped, and the human's change is committed as it is
// instead of the phase's result. Other changes by hand are committed as they are.
import { commitMessage } from '../core/transition.js';
import { decideHandChange } from '../core/decide.js';
import { writeFileAtomic } from '../edges/store.js';
import type { Item, Snapshot } from '../core/backlog.js';
import { serializeItem, updateItem } from '../core/item.js';
import { asChanges, ENGINE_KEYS } from './agent-changes.js';
import { committedData, findHandChanges, frontmatterChanges, type HandChange } from './hand-edits.js';
import type { RunState } from './run-state.js';
import { carryOut } from './writer.js';
import { forgetReviewed, removeWorktree } from '../edges/workspace.js';
import { itemLogDir } from '../edges/state-dir.js';

/** Stop the agent of each item the snapshot shows moved away from its job's phase, or removed. */
export function stopAgentsTakenByHand(run: RunState, snapshot: Snapshot): void {
  for (const [id, phase] of run.active) {
    const now = snapshot.items.find((i) => i.id === id);
    if (now?.location === phase || run.takenByHand.has(id) || run.moving.has(id) || run.agentsDone.has(id)) continue;
    // Left invalid by a human mid-edit: the agent goes on; the transition waits for a fix.
    if (!now && snapshot.invalid.some((i) => i.id === id && i.location === phase)) continue;
    run.takenByHand.add(id);
    run.controllers.get(id)?.abort();
    run.reporter.warn(`${id} was ${now ? `moved to ${now.location}/` : 'removed'} by hand: its agent is stopped`);
  }
}

/** Commit each change made by hand outside the items of `activeAtStart`; true if there were any. */
export async function commitHandChanges(
  run: RunState,
  snapshot: Snapshot,
  activeAtStart: ReadonlySet<string>,
): Promise<boolean> {
  let changed = false;
  for (const change of await findHandChanges(run.root, snapshot, activeAtStart)) {
    await commitHandChange(run, change).catch((err: unknown) =>
      run.reporter.warn(`${change.id}: ${err instanceof Error ? err.message : String(err)}`),
    );
    changed = true;
  }
  return changed;
}

// A moved item is requeued in its new phase from scratch; an edit or a removal is committed as it
// is (a removed item's worktree goes with it).
async function commitHandChange(run: RunState, change: HandChange): Promise<void> {
  if (change.kind === 'edited' && change.item)
    change.summary = await putBackEngineKeys(run, change.item, change.summary);
  const ranIn = change.kind === 'removed' ? run.removedWhileRunning.get(change.id) : undefined;
  run.removedWhileRunning.delete(change.id);
  const decided = decideHandChange(change, ranIn);
  if ('decision' in decided) {
    await run.apply(decided.item, decided.decision);
    return;
  }
  if (change.kind === 'removed') {
    await removeWorktree(run.root, change.id, run.config.settings, itemLogDir(run.root, change.id), run.signal);
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
  for (const key of ENGINE_KEYS) {
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
