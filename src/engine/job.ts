// One phase job: claim the item, run the phase's agent, decide what the outcome means, and commit
// that. A job runs beside the loop: it reads the run's context and tells the loop what happened
// (JobEvent); the loop alone changes what the run knows.
import { BACKLOG_DIR, ITEM_FILE, type Item } from '../core/backlog.js';
import type { Phase } from '../core/pipeline.js';
import { engineKeysChanged, reclaimFolder, withPutBack, type PutBack } from './agent-changes.js';
import {
  claimHeld,
  decideAfterPhase,
  decideClaim,
  decideRequeueAfterError,
  type PhaseOutcome,
} from '../core/decide.js';
import { committedData } from './hand-edits.js';
import { runPhase } from './phase.js';
import { pushClaim } from './run-sync.js';
import { betweenSyncs } from './sync.js';
import type { RunState } from './run-state.js';
import { agentOf, type Start } from '../core/scheduler.js';
import { branchExists, itemBranch } from '../edges/workspace.js';
import { remoteHad } from '../edges/remote.js';
import { setAside } from '../edges/set-aside.js';

/** What a job tells the loop as it goes; the loop alone changes what the run knows. */
export type JobEvent =
  /** The phase's agents have exited: a change to the item's folder now is the job's to check. */
  | { kind: 'agents-done' }
  | { kind: 'spent'; usd: number }
  /** The job is moving the item's folder: not a person's doing. */
  | { kind: 'moving' }
  /** The phase's outcome was committed; the item is now in `location`. */
  | { kind: 'finished'; ok: boolean; failure: boolean; location: string }
  /** The item left the backlog while its agent ran: the loop commits the removal. */
  | { kind: 'removed'; phase: string }
  /** The job failed for a reason that is not the item's fault (the item was requeued). */
  | { kind: 'failed'; error: unknown }
  /** Another clone moved the item before our claim reached the remote: our claim is gone, nothing ran. */
  | { kind: 'lost' }
  /** The claim holds (pushed, or kept while offline): the agent starts. */
  | { kind: 'held' };

/** What a job is given by the loop that starts it. */
export interface JobHost {
  run: RunState;
  /** Aborted when the run stops, or when a person takes the item by hand. */
  signal: AbortSignal;
  /** Whether a person moved or removed the item while its agent ran: the job then commits nothing. */
  takenByHand(): boolean;
  /** Whether a job of this run holds item `id` (the phase's check of files in other items). */
  holds(id: string): boolean;
  note(event: JobEvent): void;
}

/** Claim the item, run its phase and commit what the outcome means; what happens is noted to the loop. */
export async function runJob(host: JobHost, { item, pipeline, phase }: Start): Promise<void> {
  const { run } = host;
  let current = item;
  let held = false;
  try {
    current = await claim(run, item, phase);
    if ((await pushClaim(run, item, current)) === 'lost') {
      current = item;
      host.note({ kind: 'lost' });
      return;
    }
    held = true;
    host.note({ kind: 'held' });
    const outcome = await runPhase({
      root: run.root,
      config: run.config,
      item: current,
      pipeline,
      phase,
      agentOverride: run.agent,
      baseBranch: run.branch,
      remote: run.remote,
      signal: host.signal,
      onActivity: (lens, line) => run.reporter.activity?.(item.id, phase.name, lens, line),
      onWarning: (message) => run.reporter.warn(message),
      onAgentsDone: () => host.note({ kind: 'agents-done' }),
      heldElsewhere: (file) => heldByThisRun(host, file),
    });
    host.note({ kind: 'spent', usd: outcome.costUsd });
    await outsideSyncs(run, async () => {
      if ((await takenByRemote(run, current)) || host.takenByHand()) return;
      await finishPhase(host, { item: current, pipeline, phase }, outcome);
    });
  } catch (err) {
    await outsideSyncs(run, async () => {
      if ((held && (await takenByRemote(run, current))) || host.takenByHand()) return;
      await requeueAfterError(run, current, phase, err);
      host.note({ kind: 'failed', error: err });
    });
  }
}

/** With a remote, `fn` runs while no sync does (betweenSyncs); without one, at once. */
function outsideSyncs(run: RunState, fn: () => Promise<void>): Promise<void> {
  return run.remote ? betweenSyncs(fn) : fn();
}

/**
 * Whether a sync brought in another clone's takeover of the claim while the agent ran (the claim's
 * lease had run out there): the item as committed is no longer running under this run's claim.
 * Then nothing of the phase may reach the branch, where it would be pushed over the other clone's
 * work: what the agent wrote in the item's folder is set aside under refs/tend/dropped/, and the
 * folder put back as committed.
 */
async function takenByRemote(run: RunState, claimed: Item): Promise<boolean> {
  if (!run.remote || !claimed.dir) return false;
  if (claimHeld(await committedData(run.root, claimed.file), claimed.fields.owner)) return false;
  const phase = claimed.location;
  const message = `tend: ${claimed.id} ${phase} work set aside (${run.remote} took the claim over)\n`;
  const kept = await setAside(run.root, claimed.id, claimed.dir, message, run.author).then(
    (ref) => (ref ? `what it wrote is kept under ${ref} (\`git log ${ref}\`)` : 'it had written nothing'),
    (err: unknown) =>
      `what it wrote could not be set aside (${err instanceof Error ? err.message : String(err)}) and is left ` +
      `in ${claimed.dir}; move it away before the next sync`,
  );
  run.reporter.warn(
    `${claimed.id}: ${run.remote} took it over while its ${phase} agent ran here (the claim's lease ran out ` +
      `there), so the agent is stopped and nothing of it is committed; ${kept}`,
  );
  return true;
}

/**
 * Claim the item for `phase`. The first worktree phase records the item's branch, unless a
 * branch of that name exists already (here, or on the remote as last fetched): an earlier item's,
 * which the phase then refuses to build on.
 */
async function claim(run: RunState, item: Item, phase: Phase): Promise<Item> {
  const inWorktree = (phase.workspace ?? run.config.settings.workspace) === 'worktree';
  const branch = itemBranch(item.id);
  const taken = async () =>
    (await branchExists(run.root, branch)) || (!!run.remote && (await remoteHad(run.root, run.remote, branch)));
  const claimsBranch = inWorktree && !item.fields.branch && !(await taken());
  return run.apply(item, decideClaim(item, phase, run.owner, claimsBranch ? itemBranch(item.id) : undefined));
}

/** Decide what the phase's outcome means for the claimed item, and commit it. */
async function finishPhase(host: JobHost, { item, pipeline, phase }: Start, outcome: PhaseOutcome): Promise<void> {
  const { run } = host;
  const checked = await putBackAgentChanges(host, item, outcome);
  if (!checked) return;
  const limitedBy = agentOf(phase, run.config, run.agent);
  const decided = decideAfterPhase(item, pipeline, phase, checked.outcome, run.config, Date.now(), limitedBy);
  const decision = withPutBack(decided, checked.putBack, checked.notes);
  host.note({ kind: 'moving' }); // until the job is over
  const after = await run.apply(item, decision);
  const failure = !outcome.ok && !outcome.interrupted && !outcome.usageLimit;
  host.note({ kind: 'finished', ok: outcome.ok, failure, location: after.location });
}

/** Whether the item of a `backlog/<folder>/<id>/...` file is (or was, as last committed) held by a job of this run. */
async function heldByThisRun({ run, holds }: JobHost, file: string): Promise<boolean> {
  const [, folder, id = ''] = file.split('/');
  if (holds(id)) return true;
  const committed = await committedData(run.root, `${BACKLOG_DIR}/${folder}/${id}/${ITEM_FILE}`);
  return committed?.owner === run.owner && committed.status === 'running';
}

/**
 * What the agent changed of its own item that steers the run (its folder, the engine's keys, an
 * approval) is put back, and each change is reported. Undefined when the item left the backlog.
 */
async function putBackAgentChanges(
  { run, note }: JobHost,
  claimed: Item,
  outcome: PhaseOutcome,
): Promise<{ outcome: PhaseOutcome; putBack: PutBack; notes: string[] } | undefined> {
  const folder = await reclaimFolder(run.root, claimed);
  if (folder.gone) {
    // Committed by the loop once this job is over, under a subject that blames nobody.
    note({ kind: 'removed', phase: claimed.location });
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

/** A job failed for a reason that is not the item's fault: the attempt is given back, the item requeued. */
async function requeueAfterError(run: RunState, current: Item, phase: Phase, err: unknown): Promise<void> {
  if (current.fields.status !== 'running') return;
  const why = err instanceof Error ? (err.message.split('\n')[0] ?? '') : 'error';
  await run.apply(current, decideRequeueAfterError(current, phase, why)).catch(() => undefined);
}
