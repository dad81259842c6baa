// A run with a remote: pull before scheduling, push after each transition, fetch on a period
// when idle, and wait out an unreachable remote with backoff while the work goes on locally.
import { BACKLOG_DIR, ITEM_FILE, type Item } from '../core/backlog.js';
import { committedData } from './hand-edits.js';
import { claimHeld } from '../core/decide.js';
import { TendError } from '../core/problem.js';
import { headCommit } from '../edges/git.js';
import { syncStatus } from '../edges/remote.js';
import {
  CheckoutBusy,
  ClaimLostBehindChange,
  claimByPush,
  droppedNote,
  RemoteBusy,
  RemoteUnreachable,
  syncOnce,
} from './sync.js';
import type { RunState } from './run-state.js';

/** Longest wait between tries of an unreachable remote. */
const MAX_BACKOFF_MS = 60_000;
const FIRST_BACKOFF_MS = 1_000;

/**
 * Sync if it is due: the branch has moved since the last sync (a transition to push), or the
 * period (`git.sync_every`) has passed. An unreachable remote is tried again with backoff; a
 * refusal stops the run. True when commits came in (the snapshot is stale).
 */
export async function syncIfDue(run: RunState, force = false): Promise<boolean> {
  const remote = run.remote;
  if (!remote) return false;
  const now = Date.now();
  const head = (await headCommit(run.root)) ?? '';
  const state = run.sync;
  if (!force && now < state.nextAt && (state.offline || head === state.head)) return false;
  try {
    const report = await syncOnce({ root: run.root, branch: run.branch, author: run.author }, remote);
    for (const r of report.renamed)
      run.reporter.warn(
        `${r.from} is renamed ${r.to}: ${remote} has another item with that id${r.note ? `; ${r.note}` : ''}`,
      );
    for (const d of report.dropped) run.reporter.warn(droppedNote(d, remote));
    if (report.branchesNote && report.branchesNote !== state.note) run.reporter.warn(report.branchesNote);
    state.note = report.branchesNote;
    if (state.offline) run.reporter.info(`syncing with ${remote} works again: this clone's commits are pushed`);
    run.awaitingSync.clear();
    Object.assign(state, {
      offline: false,
      unreachable: false,
      backoffMs: 0,
      nextAt: now + run.config.settings.git.sync_every,
    });
    state.head = (await headCommit(run.root)) ?? '';
    if (report.pulled > 0) await stopAgentsTakenOver(run, new Set(report.renamed.map((r) => r.from)));
    await tellSync(run, remote);
    return report.pulled > 0 || report.renamed.length > 0;
  } catch (err) {
    if (err instanceof RemoteBusy) {
      // Not offline: the remote answers, other clones just pushed first. The next sync pushes.
      run.reporter.warn(`${err.message}; the commits stay here and the next sync pushes them`);
      return false;
    }
    if (!waitable(err)) throw err;
    wentOffline(run, err);
    await tellSync(run, remote);
    return false;
  }
}

/** Where the clone stands now, for a reporter that shows it (the live view): read only then. */
async function tellSync(run: RunState, remote: string): Promise<void> {
  if (!run.reporter.sync) return;
  const status = await syncStatus(run.root, remote).catch(() => undefined);
  if (status) run.reporter.sync(status);
}

/**
 * A sync that cannot happen now but will later: the remote is unreachable, or a local change
 * (yours, or an agent's in the checkout) sits in a file the remote's commits change.
 */
function waitable(err: unknown): err is TendError {
  return err instanceof RemoteUnreachable || err instanceof CheckoutBusy;
}

function wentOffline(run: RunState, err: TendError): void {
  const state = run.sync;
  if (!state.offline) run.reporter.warn(`${err.message}; ${err.fix ?? ''}`);
  state.offline = true;
  state.unreachable = err instanceof RemoteUnreachable;
  state.backoffMs = Math.min(MAX_BACKOFF_MS, state.backoffMs ? state.backoffMs * 2 : FIRST_BACKOFF_MS);
  state.nextAt = Date.now() + state.backoffMs;
}

/**
 * Push the claim of `claimed` before its agent starts. 'lost' when another clone moved the item
 * first, or other clones kept pushing first (our claim is gone from history). 'held' otherwise:
 * pushed, or the sync cannot happen now (the remote is unreachable, or a local change is in the
 * way of its commits, which had not moved the item): the clone keeps working and its claim is
 * pushed with the next sync that works. Only an unreachable remote makes later claims skip the
 * push; each claim after a local change in the way tries again.
 */
export async function pushClaim(run: RunState, before: Item, claimed: Item): Promise<'held' | 'lost'> {
  const remote = run.remote;
  if (!remote || run.sync.unreachable) return 'held';
  try {
    const target = { root: run.root, branch: run.branch, author: run.author };
    const result = await claimByPush(target, remote, before, claimed);
    run.sync.head = (await headCommit(run.root)) ?? '';
    await stopAgentsTakenOver(run);
    return result;
  } catch (err) {
    if (!waitable(err)) throw err;
    wentOffline(run, err);
    await tellSync(run, remote);
    return err instanceof ClaimLostBehindChange ? 'lost' : 'held';
  }
}

/**
 * Stop the agents of the items this run holds whose claim the commits a sync brought in replaced:
 * another clone took the item over (the claim's lease ran out there) and may be running the same
 * phase. Each job then commits nothing and sets its agent's work aside (job.ts).
 */
async function stopAgentsTakenOver(run: RunState, renamed: ReadonlySet<string> = new Set()): Promise<void> {
  for (const [id, phase] of run.active) {
    if (!run.held.has(id) || run.moving.has(id) || run.takenByRemote.has(id) || renamed.has(id)) continue;
    if (claimHeld(await committedData(run.root, `${BACKLOG_DIR}/${phase}/${id}/${ITEM_FILE}`), run.owner)) continue;
    run.takenByRemote.add(id);
    run.controllers.get(id)?.abort();
  }
}
