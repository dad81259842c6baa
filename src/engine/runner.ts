// The run loop: read a fresh snapshot, ask the scheduler what to do, carry it out (intake,
// approvals, blocks, phase jobs), repeat. Every change is one commit through applyTransition.
import { setMaxListeners } from 'node:events';
import os from 'node:os';
import path from 'node:path';
import { applyTransition } from '../backlog/mutate.js';
import { BLOCKED, DONE, INBOX, type Item } from '../backlog/store.js';
import { configChangedAt, type Config } from '../config/load.js';
import { agentType } from '../config/settings.js';
import { BranchMoved, commitPaths, git } from '../git.js';
import { formatProblem, TendError } from '../problem.js';
import { openRepo } from '../repo.js';
import { commitMessage, type Transition } from '../transition.js';
import { decideAfterPhase, decideApproval, type Decision } from './decide.js';
import { acquireRunLock } from './lock.js';
import { AGENT_PID_DIR, AgentUnavailable, runPhase } from './phase.js';
import { stopOrphanedAgents } from '../agents/process.js';
import { pipelineOf, plan, type Start } from './scheduler.js';
import { Slots } from './slots.js';
import { findHandChanges, type HandChange } from './hand-edits.js';
import { watchRepo, type RepoWatcher } from './watcher.js';
import { itemBranch, removeWorktree, settleWorkspace } from './workspace.js';

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
}

export interface Reporter {
  transition(t: Transition): void;
  info(message: string): void;
  warn(message: string): void;
  activity?(id: string, phase: string, lens: string | undefined, line: string): void;
  /** Items per folder, after each fresh read of the backlog. */
  board?(counts: Record<string, number>): void;
}

/** Errors outside an item's control (disk, permissions) before a run stops trying it. */
const MAX_ERRORS_PER_ITEM = 3;

/** How long configuration files must be unchanged before a running tend uses them. */
const CONFIG_SETTLE_MS = 300;

export interface RunSummary {
  transitions: number;
  phasesDone: number;
  failures: number;
  done: string[];
  blocked: string[];
  waiting: string[];
  parked: { id: string; until: string }[];
  /** Items waiting on a blocked dependency. */
  stuck: string[];
  costUsd: number;
  elapsedMs: number;
  /** Errors that were not an item's own fault (git, the agent CLI missing, ...). */
  errors: string[];
}

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

async function currentBranch(root: string): Promise<string> {
  const result = await git(root, ['symbolic-ref', '--quiet', '--short', 'HEAD']);
  if (result.exitCode !== 0) throw new TendError('HEAD is detached', 'check out a branch: tend commits every transition on the current branch');
  return result.stdout.trim();
}

export async function runEngine(opts: RunOptions): Promise<RunSummary> {
  const { root, reporter, signal } = opts;
  const started = Date.now();
  const summary: RunSummary = { transitions: 0, phasesDone: 0, failures: 0, done: [], blocked: [], waiting: [], parked: [], stuck: [], costUsd: 0, elapsedMs: 0, errors: [] };
  // Every running agent (nine in a review fan-out) listens for the stop signal.
  setMaxListeners(0, signal);
  const lock = await acquireRunLock(root);
  let watcher: RepoWatcher | undefined;
  if (lock.tookOver) reporter.warn(`took over the lock of a run that is gone (${lock.tookOver})`);
  try {
    const first = await openRepo(root);
    if (first.errors.length > 0) {
      throw new TendError(`the configuration has errors:\n${first.errors.map((p) => `  ${formatProblem(p)}`).join('\n')}`, 'fix them (`tend doctor` lists them all) and run again');
    }
    if (opts.agent && !agentType(first.config.settings, opts.agent)) {
      throw new TendError(`unknown agent ${JSON.stringify(opts.agent)} (--agent)`, 'use dry-run, claude, codex, opencode, or a name defined under `agents:` in ORCHESTRATOR.md');
    }
    const branch = await currentBranch(root);
    const wanted = first.config.settings.git.branch;
    if (wanted && wanted !== branch) throw new TendError(`ORCHESTRATOR.md sets git.branch: ${wanted}, but ${branch} is checked out`, `check out ${wanted}, or remove git.branch`);
    let config: Config = first.config;
    const author = () => config.settings.git.author;
    const owner = `${os.hostname()}:${process.pid}`;
    const concurrency = opts.concurrency ?? config.settings.concurrency;
    const slots = new Slots(concurrency);
    const active = new Map<string, string>();
    const jobs = new Map<string, Promise<void>>();
    let fatal: Error | undefined;
    // Items whose transition failed for a reason outside tend's control; not retried this run.
    const broken = new Set<string>();
    const suspectMissing = new Set<string>();
    const errorCounts = new Map<string, number>();
    const attempt = async (item: Item, d: Decision): Promise<boolean> => {
      try {
        await apply(item, d);
        return true;
      } catch (err) {
        if (err instanceof BranchMoved) fatal ??= err;
        broken.add(item.id);
        summary.errors.push(`${item.id}: ${err instanceof Error ? err.message : String(err)}`);
        reporter.warn(`${item.id}: ${err instanceof Error ? err.message : String(err)}`);
        return false;
      }
    };

    const settle = (item: Item, d: Decision) => settleWorkspace(root, item, d, config.settings, branch, signal);

    const apply = async (item: Item, decision: Decision) => {
      const d = await settle(item, decision);
      const applied = await applyTransition({ root, author: author(), branch }, item, d.to, d.changes, d.transition);
      if (applied.committed) {
        summary.transitions += 1;
        reporter.transition(d.transition);
      }
      return applied.item;
    };

    // Items a human moved or deleted while their agent ran: the agent is stopped, and the
    // human's change is committed as it is instead of the phase's result.
    const controllers = new Map<string, AbortController>();
    const takenByHand = new Set<string>();
    // Items whose job is moving their folder right now: not a human's doing.
    const moving = new Set<string>();
    let dirty = true;
    const handChange = async (change: HandChange) => {
      const transition: Transition = { id: change.id, phase: change.item?.location ?? change.from[0], summary: change.summary, outcome: change.kind };
      if (change.kind === 'moved' && change.item) {
        await apply(change.item, { changes: { status: 'queued', attempts: 0, owner: undefined, resume_at: undefined }, transition });
        return;
      }
      if (change.kind === 'removed') await removeWorktree(root, change.id, config.settings, path.join(root, '.tend', 'logs', change.id), signal);
      if (await commitPaths(root, change.paths, commitMessage(transition), { author: author(), branch })) {
        summary.transitions += 1;
        reporter.transition(transition);
      }
    };

    const orphans = await stopOrphanedAgents(path.join(root, AGENT_PID_DIR));
    if (orphans > 0) reporter.warn(`stopped ${orphans} agent process group(s) left running by a run that was killed`);
    // Items a previous run left `running` are requeued; the interrupted attempt counts.
    for (const item of first.snapshot.items) {
      if (item.location === INBOX || item.location === DONE || item.fields.status !== 'running') continue;
      const host = item.fields.owner?.split(':')[0];
      if (host !== undefined && host !== os.hostname() && config.settings.git.remote) continue;
      await attempt(item, { changes: { status: 'queued', owner: undefined }, transition: { id: item.id, phase: item.location, summary: `${item.location} requeued (the run holding it ended)`, outcome: 'requeued' } });
    }

    const job = async ({ item, pipeline, phase }: Start) => {
      let current = item;
      const controller = new AbortController();
      controllers.set(item.id, controller);
      const jobSignal = AbortSignal.any([signal, controller.signal]);
      try {
        const inWorktree = (phase.workspace ?? config.settings.workspace) === 'worktree';
        current = await apply(item, {
          changes: { status: 'running', owner, attempts: item.fields.attempts + 1, resume_at: undefined, ...(inWorktree && !item.fields.branch ? { branch: itemBranch(item.id) } : {}) },
          transition: { id: item.id, phase: phase.name, summary: `${phase.name} started (attempt ${item.fields.attempts + 1})`, outcome: 'claimed' },
        });
        const outcome = await runPhase({
          root, config, item: current, pipeline, phase, agentOverride: opts.agent, baseBranch: branch, slots, signal: jobSignal,
          onActivity: (lens, line) => reporter.activity?.(item.id, phase.name, lens, line),
          onWarning: (message) => reporter.warn(message),
        });
        summary.costUsd += outcome.costUsd;
        if (takenByHand.has(item.id)) return;
        const decision = decideAfterPhase(current, pipeline, phase, outcome, config, Date.now());
        moving.add(item.id); // cleared with `active`, once the job is over
        const after = await apply(current, decision);
        if (outcome.ok) summary.phasesDone += 1;
        else if (!outcome.interrupted && !outcome.usageLimit) summary.failures += 1;
        if (after.location === DONE) summary.done.push(after.id);
        if (after.location === BLOCKED) summary.blocked.push(after.id);
      } catch (err) {
        if (takenByHand.has(item.id)) return;
        if (current.fields.status === 'running') {
          // Not the item's fault: give the attempt back and requeue it.
          await apply(current, { changes: { status: 'queued', owner: undefined, attempts: Math.max(0, current.fields.attempts - 1) }, transition: { id: item.id, phase: phase.name, summary: `${phase.name} requeued (${err instanceof Error ? err.message.split('\n')[0] : 'error'})`, outcome: 'requeued' } }).catch(() => undefined);
        }
        if (err instanceof AgentUnavailable || err instanceof BranchMoved) fatal ??= err;
        else {
          // Not the item's fault (a full disk, a file in the way): say so now, and after a
          // few in a row leave the item alone for this run instead of spinning on it.
          const message = `${item.id}: ${err instanceof Error ? err.message : String(err)}`;
          summary.errors.push(message);
          reporter.warn(message);
          const count = (errorCounts.get(item.id) ?? 0) + 1;
          errorCounts.set(item.id, count);
          if (count >= MAX_ERRORS_PER_ITEM) {
            broken.add(item.id);
            reporter.warn(`${item.id}: ${count} errors in a row; leaving it alone for the rest of this run`);
          }
        }
      } finally {
        controllers.delete(item.id);
        if (takenByHand.delete(item.id)) dirty = true;
      }
    };

    watcher = opts.watch ? await watchRepo(root, (m) => reporter.warn(m), { polling: opts.polling }) : undefined;
    if (watcher) reporter.info(`watching backlog/, pipelines/, prompts/ and ORCHESTRATOR.md${watcher.polling ? ' (polling)' : ''}; Ctrl-C stops`);
    let lastConfigErrors = '';
    let lastInvalid = '';
    let configSettling = false;
    let lastConfigAt = await configChangedAt(root);

    for (;;) {
      if (signal.aborted || fatal) break;
      const repo = await openRepo(root);
      // A configuration file written a moment ago may be half-written (an editor truncates, then
      // writes): wait until it has been still for a moment before using or judging it.
      const configAt = await configChangedAt(root);
      configSettling = Date.now() - configAt < CONFIG_SETTLE_MS;
      if (!configSettling) {
        const configErrors = repo.errors.map((p) => `  ${formatProblem(p)}`).join('\n');
        if (repo.errors.length === 0) {
          if (configAt !== lastConfigAt) reporter.info('configuration reloaded');
          config = repo.config;
          lastConfigAt = configAt;
        } else if (configErrors !== lastConfigErrors) reporter.warn(`configuration has errors; keeping the last good one:\n${configErrors}`);
        lastConfigErrors = configErrors;
      }
      // Jobs may end while this tick runs; decisions below use the jobs as they were at its start.
      const activeAtStart = new Set(active.keys());
      for (const [id, phase] of active) {
        const now = repo.snapshot.items.find((i) => i.id === id);
        if (now?.location === phase || takenByHand.has(id) || moving.has(id)) continue;
        // Left invalid by a human mid-edit: the agent goes on; the transition waits for a fix.
        if (!now && repo.snapshot.invalid.some((i) => i.id === id && i.location === phase)) continue;
        takenByHand.add(id);
        controllers.get(id)?.abort();
        reporter.warn(`${id} was ${now ? `moved to ${now.location}/` : 'removed'} by hand: its agent is stopped`);
      }
      const invalidText = repo.snapshot.invalid.map((i) => i.problems.map((p) => `  ${formatProblem(p)}`).join('\n')).join('\n');
      if (invalidText !== lastInvalid && invalidText !== '') reporter.warn(`invalid backlog entries, left untouched until fixed (\`tend status\`):\n${invalidText}`);
      lastInvalid = invalidText;
      const counts: Record<string, number> = {};
      for (const i of repo.snapshot.items) counts[i.location] = (counts[i.location] ?? 0) + 1;
      reporter.board?.(counts);
      let changed = false;
      if (dirty) {
        dirty = false;
        for (const change of await findHandChanges(root, repo.snapshot, activeAtStart)) {
          await handChange(change).catch((err: unknown) => reporter.warn(`${change.id}: ${err instanceof Error ? err.message : String(err)}`));
          changed = true;
        }
        if (changed) continue;
      }
      // An item this run claimed but no job holds (its transition failed half-way, e.g. a
      // human left item.md invalid and fixed it later) goes back in the queue.
      for (const item of repo.snapshot.items) {
        if (item.fields.status !== 'running' || item.fields.owner !== owner || activeAtStart.has(item.id) || active.has(item.id) || broken.has(item.id)) continue;
        changed = (await attempt(item, { changes: { status: 'queued', owner: undefined }, transition: { id: item.id, phase: item.location, summary: `${item.location} requeued`, outcome: 'requeued' } })) || changed;
      }
      if (changed) continue;
      const now = Date.now();
      const items = repo.snapshot.items.filter((i) => !broken.has(i.id));
      const p = plan(items, config, {
        now,
        freeSlots: concurrency - active.size,
        active,
        spentUsd: summary.costUsd,
        // Ids that exist but are not planned now: their dependents wait rather than block.
        invalidIds: new Set([...repo.snapshot.invalid.flatMap((i) => (i.id ? [i.id] : [])), ...broken, ...active.keys()]),
      });
      for (const item of p.intake) {
        if (signal.aborted) break;
        const pipeline = pipelineOf(item, config);
        const firstPhase = pipeline?.phases[0];
        if (!pipeline || !firstPhase) continue;
        const defaults = {
          title: item.fields.title,
          priority: item.fields.priority,
          status: 'queued',
          attempts: 0,
          created: item.parsed.data.created ?? new Date(item.createdMs).toISOString().replace(/\.\d{3}Z$/, 'Z'),
          cost_usd: item.fields.cost_usd,
        };
        changed = (await attempt(item, { to: firstPhase.name, changes: defaults, transition: { id: item.id, phase: INBOX, summary: `inbox -> ${firstPhase.name}`, outcome: 'intake' } })) || changed;
      }
      for (const { item, pipeline, phase } of p.approved) {
        changed = (await attempt(item, decideApproval(item, pipeline, phase))) || changed;
      }
      const missingNow = new Set(p.block.filter((b) => b.missingDependency).map((b) => b.item.id));
      for (const id of suspectMissing) if (!missingNow.has(id)) suspectMissing.delete(id);
      let recheck = false;
      for (const { item, reason, missingDependency } of p.block) {
        // A dependency may be missing from one snapshot only because it is being moved: block
        // for a missing id only when two reads in a row agree.
        if (missingDependency && !suspectMissing.has(item.id)) {
          suspectMissing.add(item.id);
          recheck = true;
          continue;
        }
        const blocked = { to: BLOCKED, changes: { status: 'failed', blocked_reason: reason, blocked_phase: item.location }, transition: { id: item.id, phase: item.location, summary: `${item.location} -> blocked`, outcome: 'blocked', extra: { 'Tend-Reason': reason } } };
        if (await attempt(item, blocked)) {
          summary.blocked.push(item.id);
          changed = true;
        }
      }
      if (changed) continue; // the snapshot is stale now; plan again before starting anything
      if (recheck) {
        await sleep(100, signal);
        continue;
      }
      for (const start of p.start) {
        if (signal.aborted) break;
        active.set(start.item.id, start.phase.name);
        const running = job(start).finally(() => {
          active.delete(start.item.id);
          jobs.delete(start.item.id);
          moving.delete(start.item.id);
        });
        jobs.set(start.item.id, running);
      }
      const woken = watcher?.next().then(() => {
        dirty = true;
      });
      if (jobs.size > 0) {
        await Promise.race([...jobs.values(), sleep(opts.pollMs ?? 1000, signal), ...(woken ? [woken] : [])]);
        continue;
      }
      if (opts.once) {
        const retryAt = Math.min(...p.retrying.map((i) => Date.parse(i.fields.resume_at ?? '')).filter((t) => !Number.isNaN(t)));
        if (p.start.length === 0 && Number.isFinite(retryAt)) {
          await sleep(Math.max(10, retryAt - Date.now()), signal);
          continue;
        }
        if (p.start.length === 0) {
          summary.waiting = p.waiting.map((i) => i.id);
          summary.stuck = p.stuck.map((i) => i.id);
          summary.parked = p.parked.map((i) => ({ id: i.id, until: i.fields.resume_at ?? '' }));
          break;
        }
      } else {
        // Idle: wait for a file change, a retry or parked item coming due, or the next poll.
        const due = Math.min(...[...p.retrying, ...p.parked].map((i) => Date.parse(i.fields.resume_at ?? '')).filter((t) => !Number.isNaN(t)));
        const idleMs = Math.min(watcher ? 30_000 : (opts.pollMs ?? 1000), Number.isFinite(due) ? Math.max(10, due - Date.now()) : Infinity, configSettling ? CONFIG_SETTLE_MS : Infinity);
        await Promise.race([sleep(idleMs, signal), ...(woken ? [woken] : [])]);
      }
    }
    await Promise.allSettled(jobs.values());
    if (fatal) throw fatal;
    return summary;
  } finally {
    summary.elapsedMs = Date.now() - started;
    await watcher?.close();
    await lock.release();
  }
}
