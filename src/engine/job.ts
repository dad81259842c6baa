// One phase job: claim the item, run the phase's agent, decide what the outcome means, and commit
// that. A job runs beside the loop; the run's state is how the two keep out of each other's way.
import { BACKLOG_DIR, BLOCKED, DONE, ITEM_FILE, type Item } from '../core/backlog.js';
import type { Phase } from '../core/pipeline.js';
import { BranchMoved } from '../edges/git.js';
import { engineKeysChanged, reclaimFolder, withPutBack, type PutBack } from './agent-changes.js';
import { decideAfterPhase, decideClaim, decideRequeueAfterError, type PhaseOutcome } from '../core/decide.js';
import { committedData } from './hand-edits.js';
import { AgentUnavailable, runPhase } from './phase.js';
import type { RunState } from './run-state.js';
import { agentOf, type Start } from '../core/scheduler.js';
import { branchExists, itemBranch } from '../edges/workspace.js';

/** Errors outside an item's control (disk, permissions) before a run stops trying it. */
const MAX_ERRORS_PER_ITEM = 3;

/** Start a job; it stays in `active` and `jobs` until it is over. */
export function startJob(run: RunState, start: Start): void {
  const id = start.item.id;
  run.active.set(id, start.phase.name);
  const running = runJob(run, start).finally(() => {
    run.active.delete(id);
    run.jobs.delete(id);
    run.moving.delete(id);
    run.agentsDone.delete(id);
    // What its agent (or a person) changed in other items meanwhile is looked at before the
    // next plan, so it is never folded silently into another item's transition.
    run.dirty = true;
  });
  run.jobs.set(id, running);
}

async function runJob(run: RunState, { item, pipeline, phase }: Start): Promise<void> {
  let current = item;
  const controller = new AbortController();
  run.controllers.set(item.id, controller);
  const jobSignal = AbortSignal.any([run.signal, controller.signal]);
  try {
    current = await claim(run, item, phase);
    const outcome = await runPhase({
      root: run.root,
      config: run.config,
      item: current,
      pipeline,
      phase,
      agentOverride: run.agent,
      baseBranch: run.branch,
      slots: run.slots,
      signal: jobSignal,
      onActivity: (lens, line) => run.reporter.activity?.(item.id, phase.name, lens, line),
      onWarning: (message) => run.reporter.warn(message),
      onAgentsDone: () => run.agentsDone.add(item.id),
      heldElsewhere: (file) => heldByThisRun(run, file),
    });
    run.summary.costUsd += outcome.costUsd;
    if (run.takenByHand.has(item.id)) return;
    await finishPhase(run, { item: current, pipeline, phase }, outcome);
  } catch (err) {
    if (run.takenByHand.has(item.id)) return;
    await jobFailed(run, current, phase, err);
  } finally {
    run.controllers.delete(item.id);
    if (run.takenByHand.delete(item.id)) run.dirty = true;
  }
}

/**
 * Claim the item for `phase`. The first worktree phase records the item's branch, unless a
 * branch of that name exists already: an earlier item's, which the phase then refuses to build on.
 */
async function claim(run: RunState, item: Item, phase: Phase): Promise<Item> {
  const inWorktree = (phase.workspace ?? run.config.settings.workspace) === 'worktree';
  const claimsBranch = inWorktree && !item.fields.branch && !(await branchExists(run.root, itemBranch(item.id)));
  return run.apply(item, decideClaim(item, phase, run.owner, claimsBranch ? itemBranch(item.id) : undefined));
}

/** Decide what the phase's outcome means for the claimed item, and commit it. */
async function finishPhase(run: RunState, { item, pipeline, phase }: Start, outcome: PhaseOutcome): Promise<void> {
  const checked = await putBackAgentChanges(run, item, outcome);
  if (!checked) return;
  const limitedBy = agentOf(phase, run.config, run.agent);
  const decided = decideAfterPhase(item, pipeline, phase, checked.outcome, run.config, Date.now(), limitedBy);
  const decision = withPutBack(decided, checked.putBack, checked.notes);
  run.moving.add(item.id); // cleared with `active`, once the job is over
  const after = await run.apply(item, decision);
  if (outcome.ok) run.summary.phasesDone += 1;
  else if (!outcome.interrupted && !outcome.usageLimit) run.summary.failures += 1;
  if (after.location === DONE) run.summary.done.push(after.id);
  if (after.location === BLOCKED) run.summary.blocked.push(after.id);
}

/** Whether the item of a `backlog/<folder>/<id>/...` file is (or was, as last committed) held by a job of this run. */
async function heldByThisRun(run: RunState, file: string): Promise<boolean> {
  const [, folder, id = ''] = file.split('/');
  if (run.active.has(id) || run.takenByHand.has(id)) return true;
  const committed = await committedData(run.root, `${BACKLOG_DIR}/${folder}/${id}/${ITEM_FILE}`);
  return committed?.owner === run.owner && committed.status === 'running';
}

/**
 * What the agent changed of its own item that steers the run (its folder, the engine's keys, an
 * approval) is put back, and each change is reported. Undefined when the item left the backlog.
 */
async function putBackAgentChanges(
  run: RunState,
  claimed: Item,
  outcome: PhaseOutcome,
): Promise<{ outcome: PhaseOutcome; putBack: PutBack; notes: string[] } | undefined> {
  const folder = await reclaimFolder(run.root, claimed);
  if (folder.gone) {
    // Committed by the loop once this job is over, under a subject that blames nobody.
    run.removedWhileRunning.set(claimed.id, claimed.location);
    const left = `${claimed.dir} left the backlog while its ${claimed.location} agent ran (a person, or the agent)`;
    run.reporter.warn(`${claimed.id}: ${left}; the removal is committed, its history stays in git`);
    return undefined;
  }
  const putBack = await engineKeysChanged(run.root, claimed);
  const notes = [folder.note, putBack.note].filter((n): n is string => n !== undefined);
  for (const note of notes) run.reporter.warn(`${claimed.id}: ${note}`);
  // An agent may not move or delete its own item: the attempt failed, whatever it wrote.
  if (!folder.note) return { outcome, putBack, notes };
  return { outcome: { ...outcome, ok: false, failure: folder.note }, putBack, notes };
}

/** A job failed for a reason that is not the item's fault: requeue the item and count the error. */
async function jobFailed(run: RunState, current: Item, phase: Phase, err: unknown): Promise<void> {
  if (current.fields.status === 'running') {
    // Not the item's fault: give the attempt back and requeue it.
    const why = err instanceof Error ? (err.message.split('\n')[0] ?? '') : 'error';
    await run.apply(current, decideRequeueAfterError(current, phase, why)).catch(() => undefined);
  }
  if (err instanceof AgentUnavailable || err instanceof BranchMoved) {
    run.fatal ??= err;
    return;
  }
  // Not the item's fault (a full disk, a file in the way): say so now, and after a few in a
  // row leave the item alone for this run instead of spinning on it.
  run.error(`${current.id}: ${err instanceof Error ? err.message : String(err)}`);
  const count = (run.errorCounts.get(current.id) ?? 0) + 1;
  run.errorCounts.set(current.id, count);
  if (count >= MAX_ERRORS_PER_ITEM) {
    run.broken.add(current.id);
    run.reporter.warn(`${current.id}: ${count} errors in a row; leaving it alone for the rest of this run`);
  }
}
