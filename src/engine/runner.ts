// The run loop: read a fresh snapshot, ask the scheduler what to do, carry it out (intake,
// approvals, blocks, phase jobs), repeat. Every change is one commit through the writer (carryOut).
import { setMaxListeners } from 'node:events';
import { pendingIds, type Finished } from '../edges/journal.js';
import { carryOut, PENDING, workingBranch } from './writer.js';
import { BACKLOG_DIR, BLOCKED, DONE, type Snapshot } from '../core/backlog.js';
import { configChangedAt } from '../edges/config-files.js';
import { agentType } from '../core/settings.js';
import { BranchMoved, checkCanCommit, runAutoMaintenance } from '../edges/git.js';
import { formatProblem, TendError } from '../core/problem.js';
import { checkFolders, openRepo, type Repo } from '../edges/repo.js';
import { CONFIG_SETTLE_MS, ConfigReload } from './config-reload.js';
import { runJob, type JobEvent } from './job.js';
import { AgentUnavailable } from './phase.js';
import { acquireRunLock } from '../edges/lock.js';
import { approve, block, takeIn } from './moves.js';
import { recoverPreviousRun, reportFinished, requeueStrayClaims, takeOverExpiredLeases } from './recovery.js';
import { emptySummary, RunState, type Happened, type Reporter, type RunSummary } from './run-state.js';
import { beginRunBudget, endRunBudget, readDay } from './run-budget.js';
import { plan, type Cap, type Plan, type Start } from '../core/scheduler.js';
import { commitHandChanges, takenByHand } from './taken-by-hand.js';
import { watchRepo, type RepoWatcher } from '../edges/watcher.js';
import { isOwnWrite } from '../edges/own-writes.js';
import { STATE_DIR } from '../edges/state-dir.js';
import { RemoteRefused } from '../edges/remote.js';
import { chooseRemote } from './sync.js';
import { syncIfDue } from './run-sync.js';

export type { Reporter, RunSummary } from './run-state.js';

export interface RunOptions {
  root: string;
  once: boolean;
  agent?: string;
  concurrency?: number;
  /** Stops the run: nothing new starts, running agents are stopped and their items requeued. */
  signal: AbortSignal;
  reporter: Reporter;
  /** How often an idle run without --once looks for new work when it is not watching files. */
  pollMs?: number;
  /** Watch the files (live mode); without --once this is the default. */
  watch?: boolean;
  /** Poll instead of native file events (for file systems without them). */
  polling?: boolean;
  /** Sync with a git remote: its name (or URL), or true for `git.remote` in ORCHESTRATOR.md. */
  sync?: string | true;
}

/** How soon an inbox file still open for writing is looked at again. */
const WRITING_RECHECK_MS = 500;
// How often the look for changes by hand goes inside backlog/done/ (always on a run's first
// tick). done/ only grows, and walking it cost 200 ms a tick at 10,000 finished items; a finished
// item edited by hand waits at most this long to be committed.
const DONE_RESCAN_MS = 60_000;

/** Wait `ms`, or less if `signal` aborts (at once if it already has). */
function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted) return Promise.resolve();
  return new Promise<void>((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}

/** Refuse to start with a broken configuration, an unknown --agent or the wrong branch; returns the branch. */
async function checkCanRun(opts: RunOptions, first: Repo): Promise<string> {
  if (first.errors.length > 0) {
    throw new TendError(
      `the configuration has errors:\n${first.errors.map((p) => `  ${formatProblem(p)}`).join('\n')}`,
      'fix them (`tend doctor` lists them all) and run again',
    );
  }
  if (opts.agent && !agentType(first.config.settings, opts.agent)) {
    throw new TendError(
      `unknown agent ${JSON.stringify(opts.agent)} (--agent)`,
      'use dry-run, claude, codex, opencode, or a name defined under `agents:` in ORCHESTRATOR.md',
    );
  }
  // A merge or rebase in progress, no identity, a stale index lock: refused before any agent runs.
  await checkCanCommit(opts.root, first.config.settings.git.author);
  return workingBranch(opts.root, first.config.settings.git.branch, 'run');
}

export async function runEngine(opts: RunOptions): Promise<RunSummary> {
  const { root, reporter, signal } = opts;
  const started = Date.now();
  const summary = emptySummary();
  // Every running agent (nine in a review fan-out) listens for the stop signal.
  setMaxListeners(0, signal);
  // .tend/ before the lock, which records its holder there; backlog/ after it, so a second run
  // beside a live one hears that first, whatever state backlog/ is in.
  await checkFolders(root, { writable: true, dirs: [STATE_DIR] });
  const lock = await acquireRunLock(root);
  let watcher: RepoWatcher | undefined;
  if (lock.tookOver) reporter.warn(`took over the lock of a run that is gone (${lock.tookOver})`);
  try {
    await checkFolders(root, { writable: true, dirs: [BACKLOG_DIR] });
    const first = await openRepo(root);
    const branch = await checkCanRun(opts, first);
    const concurrency = opts.concurrency ?? first.config.settings.concurrency;
    const budget = await beginRunBudget(root);
    if (budget.carriedUsd > 0) {
      const spent = `$${budget.carriedUsd.toFixed(2)}`;
      reporter.info(`continuing a run cut off (started ${budget.started}): its ${spent} count toward the run budget`);
    }
    const run = new RunState({
      root,
      branch,
      config: first.config,
      concurrency,
      agent: opts.agent,
      signal,
      reporter,
      summary,
      carriedUsd: budget.carriedUsd,
    });
    run.remote = opts.sync === true ? chooseRemote(undefined, first.config.settings.git.remote) : opts.sync;
    run.remote ??= first.config.settings.git.remote;
    const recovered = await recoverPreviousRun(run, first.snapshot.items);
    run.busy = recovered.busy;
    fold(run, recovered);
    // The run's own transitions do not wake it: it plans again after each one anyway.
    const watching = { polling: opts.polling, ignore: (file: string) => isOwnWrite(root, file) };
    watcher = opts.watch ? await watchRepo(root, (m) => reporter.warn(m), watching) : undefined;
    const watched = 'backlog/, pipelines/, prompts/ and ORCHESTRATOR.md';
    if (watcher) reporter.info(`watching ${watched}${watcher.polling ? ' (polling)' : ''}; Ctrl-C stops`);
    try {
      await loop(run, opts, watcher);
    } catch (err) {
      // Never leave agents running, and items claimed, after the lock is given up.
      for (const controller of run.controllers.values()) controller.abort();
      throw err;
    } finally {
      await Promise.allSettled(run.jobs.values());
    }
    // What the run committed last goes to the remote before it ends (offline: it says so).
    if (!run.fatal) await syncIfDue(run, true);
    await endRunBudget(root);
    await runAutoMaintenance(root); // skipped after each of the run's commits (see git.ts)
    if (run.fatal) throw run.fatal;
    return summary;
  } finally {
    summary.elapsedMs = Date.now() - started;
    await watcher?.close();
    await lock.release();
  }
}

/** Tick until the run is stopped, something fatal happens, or a --once run has nothing left to do. */
async function loop(run: RunState, opts: RunOptions, watcher: RepoWatcher | undefined): Promise<void> {
  const { root, signal } = run;
  const configs = new ConfigReload(run.reporter, await configChangedAt(root));
  const tick = { lastInvalid: '', failures: 0 };
  for (;;) {
    if (signal.aborted || run.fatal) break;
    let next: 'again' | 'stop';
    try {
      next = await runTick(run, opts, watcher, configs, tick);
      tick.failures = 0;
    } catch (err) {
      next = await tickFailed(run, opts, watcher, tick, err);
    }
    if (next === 'stop') break;
  }
}

/** Consecutive failed ticks after which a --once run gives up (a live run keeps trying). */
const MAX_FAILED_TICKS_ONCE = 5;
const MAX_FAILED_TICK_PAUSE_MS = 4000;
/**
 * How long an idle live run trusts the watcher alone. Watchers miss some changes (backlog/
 * renamed away and replaced, network file systems), and an idle pass costs a few milliseconds.
 */
const IDLE_LOOK_MS = 5000;

/**
 * A tick that threw something unforeseen (a file that cannot be read, a bug): the run reports it
 * and tries again after a pause instead of dying with its agents still running, so one bad file
 * never stops the work on every other item. A --once run gives up when it keeps happening.
 */
async function tickFailed(
  run: RunState,
  opts: RunOptions,
  watcher: RepoWatcher | undefined,
  tick: { failures: number },
  err: unknown,
): Promise<'again' | 'stop'> {
  tick.failures += 1;
  // The branch moved under the run: going on would commit on top of someone else's history. A
  // remote that refuses us (access, a protected branch) will not change its mind on a retry.
  if (err instanceof BranchMoved || err instanceof RemoteRefused) {
    run.fatal ??= err;
    return 'stop';
  }
  const fix = err instanceof TendError && err.fix ? ` (${err.fix})` : '';
  const why = err instanceof Error ? err.message : String(err);
  const message = `a pass over the backlog failed, trying again: ${why}${fix}`;
  if (!run.summary.errors.includes(message)) run.error(message);
  if (opts.once && tick.failures >= MAX_FAILED_TICKS_ONCE) {
    run.fatal ??= err instanceof Error ? err : new Error(String(err));
    return 'stop';
  }
  // At most a few seconds: a watcher may miss the fix (backlog/ replaced and put back is a new
  // folder to it), and a pass over a healthy backlog costs little.
  const pauseMs = Math.min(MAX_FAILED_TICK_PAUSE_MS, (opts.pollMs ?? 1000) * 2 ** (tick.failures - 1));
  await Promise.race([sleep(pauseMs, run.signal), ...(watcher ? [watcher.next()] : [])]);
  run.dirty = true;
  return 'again';
}

/** One pass: read the backlog, carry out what the scheduler plans, wait for work. */
async function runTick(
  run: RunState,
  opts: RunOptions,
  watcher: RepoWatcher | undefined,
  configs: ConfigReload,
  tick: { lastInvalid: string },
): Promise<'again' | 'stop'> {
  const { root, signal } = run;
  // Pull before planning (and push what the last transitions committed).
  if (await syncIfDue(run)) {
    run.dirty = true;
    return 'again';
  }
  const repo = await openRepo(root);
  const configAt = await configChangedAt(root);
  const reload = configs.settle(repo, configAt);
  if (reload.config) run.config = reload.config;
  const configSettling = reload.settling;
  // Jobs may end while this tick runs; decisions below use the jobs as they were at its start.
  const activeAtStart = new Set(run.active.keys());
  // Cleared now, not after the awaits below: a job that ends meanwhile sets it again, and its
  // item's changes by hand must be looked at on the next tick, not folded into a requeue.
  const lookForHandChanges = run.dirty;
  run.dirty = false;
  stopAgentsTakenByHand(run, repo.snapshot);

  tick.lastInvalid = reportSnapshot(run.reporter, repo.snapshot, tick.lastInvalid);
  // A transition a killed `tend approve` (or a failed commit of this run) left half done is
  // finished first, so its move is not taken for a human's; items another tend process is
  // moving right now are left alone until it is done.
  const pending = await finishPendingOf(run);
  run.busy = pending.busy;
  if (pending.committed.length > 0) {
    run.dirty = true;
    return 'again';
  }
  if (lookForHandChanges) {
    if (pending.busy.size > 0) run.dirty = true; // look again once the other processes are done
    const leave = new Set([...activeAtStart, ...pending.busy]);
    const withDone = Date.now() - run.doneScannedAt >= DONE_RESCAN_MS;
    if (withDone) run.doneScannedAt = Date.now();
    const byHand = await commitHandChanges(run, repo.snapshot, leave, withDone);
    for (const id of byHand.seen) run.removedWhileRunning.delete(id);
    if (byHand.changed) return 'again';
  }
  const leftAlone = (id: string) => activeAtStart.has(id) || run.active.has(id) || run.broken.has(id);
  if (fold(run, await requeueStrayClaims(run, repo.snapshot.items, leftAlone))) return 'again';
  if (fold(run, await takeOverExpiredLeases(run, repo.snapshot.items, leftAlone))) return 'again';
  const capped = run.config.settings.budget.per_day_usd !== undefined;
  run.dayRead = await readDay(root, capped, run.dayRead, run.spentUsd, Date.now());
  const p = planNow(run, repo.snapshot);
  reportBudget(run, p.cap);
  const moved = await moveWithoutAgents(run, p);
  if (moved !== 'none') {
    if (moved === 'recheck') await sleep(100, signal);
    return 'again';
  }
  for (const start of p.start) {
    if (signal.aborted) break;
    startJob(run, start);
  }
  // A job that ended while this tick ran was not in the plan: a --once run must plan again.
  const plannedAround = activeAtStart.size > 0;
  return (await waitForWork(run, opts, watcher, p, configSettling, plannedAround)) ? 'again' : 'stop';
}

/**
 * Intake, approvals and blocks, folded into the run's state. `changed`: after any of these the
 * snapshot is stale, and the loop plans again before starting anything; `recheck`: an item was
 * left for a second read to agree that its dependency is missing.
 */
async function moveWithoutAgents(run: RunState, p: Plan): Promise<'changed' | 'recheck' | 'none'> {
  // Each step is folded as soon as it returns, so a later step that throws loses nothing of it.
  const tookIn = await takeIn(run, p.intake, run.writing);
  run.writing = tookIn.writing;
  let changed = fold(run, tookIn);
  changed = fold(run, await approve(run, p.approved)) || changed;
  const blocked = await block(run, p.block, run.suspectMissing);
  run.suspectMissing = blocked.suspected;
  changed = fold(run, blocked) || changed;
  return changed ? 'changed' : blocked.recheck ? 'recheck' : 'none';
}

/**
 * What a step did, into what the loop knows: blocked items in the summary; an item whose
 * transition failed for a reason outside tend's control is left alone for the rest of the run
 * (a branch moved under the run ends it). True if anything was committed.
 */
function fold(run: RunState, happened: Happened): boolean {
  run.summary.blocked.push(...happened.blocked);
  for (const { id, error } of happened.failed) {
    if (error instanceof BranchMoved) run.fatal ??= error;
    run.broken.add(id);
    run.error(`${id}: ${error instanceof Error ? error.message : String(error)}`);
  }
  return happened.changed;
}

/** Stop the agent of each item the snapshot shows moved away from its job's phase, or removed. */
function stopAgentsTakenByHand(run: RunState, snapshot: Snapshot): void {
  // A job whose claim is not held yet has started no agent; a sync that drops its claim moves
  // the item back, which is not a person's doing (the job then finds its claim lost).
  const skip = (id: string) =>
    !run.held.has(id) ||
    run.takenByHand.has(id) ||
    run.takenByRemote.has(id) ||
    run.moving.has(id) ||
    run.agentsDone.has(id);
  for (const { id, note } of takenByHand(snapshot, run.active, skip)) {
    run.takenByHand.add(id);
    run.controllers.get(id)?.abort();
    run.reporter.warn(note);
  }
}

/** Errors outside an item's control (disk, permissions) before a run stops trying it. */
const MAX_ERRORS_PER_ITEM = 3;

/** Start a job beside the loop; it stays in `active` and `jobs` until it is over. */
function startJob(run: RunState, start: Start): void {
  const id = start.item.id;
  const controller = new AbortController();
  run.active.set(id, start.phase.name);
  run.controllers.set(id, controller);
  const host = {
    run,
    signal: AbortSignal.any([run.signal, controller.signal]),
    takenByHand: () => run.takenByHand.has(id),
    holds: (other: string) => run.active.has(other) || run.takenByHand.has(other),
    note: (event: JobEvent) => noteJob(run, id, event),
  };
  const running = runJob(host, start).finally(() => {
    run.controllers.delete(id);
    run.takenByHand.delete(id);
    run.takenByRemote.delete(id);
    run.held.delete(id);
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

/** What job `id` says happened, into what the loop knows. */
function noteJob(run: RunState, id: string, event: JobEvent): void {
  const { summary } = run;
  if (event.kind === 'agents-done') run.agentsDone.add(id);
  else if (event.kind === 'held') run.held.add(id);
  else if (event.kind === 'moving') run.moving.add(id);
  else if (event.kind === 'spent') summary.costUsd += event.usd;
  else if (event.kind === 'removed') run.removedWhileRunning.set(id, event.phase);
  else if (event.kind === 'failed') jobFailed(run, id, event.error);
  else if (event.kind === 'lost') lostClaim(run, id);
  else {
    if (event.ok) summary.phasesDone += 1;
    else if (event.failure) summary.failures += 1;
    if (event.location === DONE) summary.done.push(id);
    if (event.location === BLOCKED) summary.blocked.push(id);
  }
}

function lostClaim(run: RunState, id: string): void {
  if (!run.sync.offline) {
    run.reporter.info(`${id}: another clone claimed or moved it first; planning again`);
    return;
  }
  run.awaitingSync.add(id);
  run.reporter.warn(`${id}: another clone moved it first; it waits until this clone can sync again`);
}

/** A job failed for a reason that is not the item's fault (its item was requeued): count the error. */
function jobFailed(run: RunState, id: string, err: unknown): void {
  if (err instanceof AgentUnavailable || err instanceof BranchMoved || err instanceof RemoteRefused) {
    run.fatal ??= err;
    return;
  }
  // Not the item's fault (a full disk, a file in the way): say so now, and after a few in a
  // row leave the item alone for this run instead of spinning on it.
  run.error(`${id}: ${err instanceof Error ? err.message : String(err)}`);
  const count = (run.errorCounts.get(id) ?? 0) + 1;
  run.errorCounts.set(id, count);
  if (count >= MAX_ERRORS_PER_ITEM) {
    run.broken.add(id);
    run.reporter.warn(`${id}: ${count} errors in a row; leaving it alone for the rest of this run`);
  }
}

/** finishPending for the loop: a failure is reported once and the records are kept for later. */
async function finishPendingOf(run: RunState): Promise<Finished> {
  try {
    const pending = await carryOut(run.target, PENDING);
    if (pending.committed.length > 0) reportFinished(run.reporter, pending.committed);
    return pending;
  } catch (err) {
    if (err instanceof BranchMoved) run.fatal ??= err;
    const message = `could not finish a half-done transition: ${err instanceof Error ? err.message : String(err)}`;
    if (!run.summary.errors.includes(message)) run.error(message);
    // Their items wait as if another process moved them: a record not yet committed is no
    // person's change, and a new transition would write over it.
    return { committed: [], busy: await pendingIds(run.root) };
  }
}

/** Warn about invalid entries when they change, and show the board; returns the warning's text. */
function reportSnapshot(reporter: Reporter, snapshot: Snapshot, lastInvalid: string): string {
  const invalidText = snapshot.invalid.map((i) => i.problems.map((p) => `  ${formatProblem(p)}`).join('\n')).join('\n');
  if (invalidText !== lastInvalid && invalidText !== '')
    reporter.warn(`invalid backlog entries, left untouched until fixed (\`tend status\`):\n${invalidText}`);
  const counts: Record<string, number> = {};
  for (const i of snapshot.items) counts[i.location] = (counts[i.location] ?? 0) + 1;
  counts[DONE] = snapshot.done.size; // done/'s items are known by their ids, not read
  reporter.board?.(counts);
  return invalidText;
}

/** Say once, on stderr and in the summary, that a spending cap keeps items from starting. */
function reportBudget(run: RunState, cap: Cap | undefined): void {
  if (!cap) {
    run.summary.stoppedBy = undefined; // the cap was raised in ORCHESTRATOR.md, or the day's spending rolled out
    return;
  }
  if (run.summary.stoppedBy?.startsWith(cap)) return;
  const { budget } = run.config.settings;
  if (cap === 'budget.per_day_usd') {
    const day = `$${(run.daySpentUsd ?? 0).toFixed(2)} spent in the last 24 hours`;
    run.summary.stoppedBy =
      `budget.per_day_usd reached: ${day} (the commits' Tend-Cost-USD trailers) of ` +
      `$${(budget.per_day_usd ?? 0).toFixed(2)}, so no new phase starts (running ones finish); ` +
      'it starts again as spending rolls out of the 24 hours, or raise budget.per_day_usd in ORCHESTRATOR.md';
  } else {
    const before = run.carriedUsd > 0 ? ` ($${run.carriedUsd.toFixed(2)} of it before a restart)` : '';
    const limit = (budget.per_run_usd ?? 0).toFixed(2);
    run.summary.stoppedBy =
      `budget.per_run_usd reached: this run has spent $${run.spentUsd.toFixed(2)}${before} of $${limit}, ` +
      'so it starts no new phase; raise budget.per_run_usd in ORCHESTRATOR.md, or start a new run for a new budget';
  }
  run.reporter.warn(run.summary.stoppedBy);
}

/** The scheduler's plan for the items this run has not given up on. */
function planNow(run: RunState, snapshot: Snapshot): Plan {
  const now = Date.now();
  const left = (id: string) => run.broken.has(id) || run.busy.has(id) || run.awaitingSync.has(id);
  const items = snapshot.items.filter((i) => !left(i.id));
  return plan(items, run.config, {
    now,
    freeSlots: run.concurrency - run.active.size,
    active: run.active,
    spentUsd: run.spentUsd,
    daySpentUsd: run.daySpentUsd,
    // Ids that exist but are not planned now: their dependents wait rather than block.
    invalidIds: new Set([
      ...snapshot.invalid.flatMap((i) => (i.id ? [i.id] : [])),
      ...run.broken,
      ...run.busy,
      ...run.awaitingSync,
      ...run.active.keys(),
    ]),
    finished: snapshot.done,
    agent: run.agent,
  });
}

/**
 * Wait until there may be something to do: a job ending, a file change, a retry or parked item
 * coming due, or the next poll. False when a --once run has nothing left to do.
 */
async function waitForWork(
  run: RunState,
  opts: RunOptions,
  watcher: RepoWatcher | undefined,
  p: Plan,
  configSettling: boolean,
  plannedAroundJobs: boolean,
): Promise<boolean> {
  const { signal, summary } = run;
  // A file being written may be closed without a last change to wake the watcher: look again soon.
  const pollMs = run.writing.size > 0 ? Math.min(WRITING_RECHECK_MS, opts.pollMs ?? 1000) : (opts.pollMs ?? 1000);
  // A new inbox file alone wakes the run without a look for changes by hand: it can hold none.
  const woken = watcher?.next().then((byHand) => {
    if (byHand) run.dirty = true;
  });
  if (run.jobs.size > 0) {
    await Promise.race([...run.jobs.values(), sleep(pollMs, signal), ...(woken ? [woken] : [])]);
    return true;
  }
  if (opts.once) {
    if (plannedAroundJobs) return true; // they have all ended since: what they left may start now
    const retryAt = Math.min(
      ...p.retrying.map((i) => Date.parse(i.fields.resume_at ?? '')).filter((t) => !Number.isNaN(t)),
    );
    if (p.start.length === 0 && Number.isFinite(retryAt)) {
      await sleep(Math.max(10, retryAt - Date.now()), signal);
      return true;
    }
    if (p.start.length === 0) {
      summary.waiting = p.waiting.map((i) => i.id);
      summary.stuck = p.stuck.map((i) => i.id);
      summary.parked = [
        ...p.parked.map((i) => ({ id: i.id, until: i.fields.resume_at ?? '' })),
        ...p.limited.map((l) => ({ id: l.item.id, until: l.until })),
      ];
      return false;
    }
  } else {
    // Idle: wait for a file change, a retry or parked item coming due, or the next poll.
    const due = Math.min(
      ...[...p.retrying, ...p.parked].map((i) => Date.parse(i.fields.resume_at ?? '')).filter((t) => !Number.isNaN(t)),
    );
    const idleMs = Math.min(
      watcher && run.writing.size === 0 ? IDLE_LOOK_MS : pollMs,
      Number.isFinite(due) ? Math.max(10, due - Date.now()) : Infinity,
      configSettling ? CONFIG_SETTLE_MS : Infinity,
      run.remote ? Math.max(10, run.sync.nextAt - Date.now()) : Infinity,
    );
    await Promise.race([sleep(idleMs, signal), ...(woken ? [woken] : [])]);
  }
  return true;
}
