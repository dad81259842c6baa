// Items left `running` with no agent working on them go back in the queue: at the start, those
// of a run that ended without cleaning up; on every tick, those this run claimed but no job holds.
import os from 'node:os';
import path from 'node:path';
import { stopOrphanedAgents } from '../edges/process.js';
import { DONE, INBOX, type Item } from '../core/backlog.js';
import { git, literal } from '../edges/git.js';
import { openRepo } from '../edges/repo.js';
import { decideRecovery, decideStrayRequeue, decideTakeover } from '../core/decide.js';
import { AGENT_PID_DIR } from './phase.js';
import { nothingYet, type Happened, type Reporter, type RunState } from './run-state.js';
import { pipelineOf } from '../core/scheduler.js';
import { carryOut, PENDING } from './writer.js';

/**
 * Pick up after a run that ended without cleaning up: stop the agents it left running, finish
 * the transitions it (or a killed `tend approve`) left half done, and requeue the items it held,
 * or block those whose interrupted attempt was their last.
 */
export async function recoverPreviousRun(
  run: RunState,
  items: Item[],
): Promise<Happened & { busy: ReadonlySet<string> }> {
  // Agents first, so nothing is still writing into an item folder that is about to be committed.
  const orphans = await stopOrphanedAgents(path.join(run.root, AGENT_PID_DIR));
  if (orphans > 0) run.reporter.warn(`stopped ${orphans} agent process group(s) left running by a run that was killed`);
  const { committed, busy } = await carryOut(run.target, PENDING);
  if (committed.length > 0) reportFinished(run.reporter, committed);
  const happened = nothingYet();
  // The backlog as read at start, unless finishing those transitions moved items since.
  const now = committed.length > 0 ? (await openRepo(run.root)).snapshot.items : items;
  for (const item of now) {
    if (item.location === INBOX || item.location === DONE || item.fields.status !== 'running' || busy.has(item.id))
      continue;
    if (heldByAnotherClone(run, item.fields.owner)) continue;
    const phase = pipelineOf(item, run.config)?.phases.find((p) => p.name === item.location);
    // `running` as committed is a claim of this phase; otherwise it is what a half-done move
    // carried over from the phase before (its journal lost with .tend/), and no attempt here
    // was cut short.
    const claimedHere =
      (
        await git(run.root, [
          '--no-optional-locks',
          'status',
          '--porcelain',
          '--ignored',
          '--untracked-files=all',
          '--',
          literal(item.file),
        ])
      ).stdout === '';
    await run.attempt(happened, item, decideRecovery(item, claimedHere ? phase : undefined, run.config));
  }
  return { ...happened, busy };
}

/**
 * Whether `owner` is another clone's live run: with a remote, items another host holds are its
 * own to recover, and so are those of a live process on this host (a second clone here).
 */
function heldByAnotherClone(run: RunState, owner: string | undefined): boolean {
  if (!owner || !(run.remote ?? run.config.settings.git.remote)) return false;
  const [host, pid] = [owner.slice(0, owner.lastIndexOf(':')), Number(owner.slice(owner.lastIndexOf(':') + 1))];
  if (host !== os.hostname()) return true;
  if (!Number.isInteger(pid) || pid === process.pid) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export function reportFinished(reporter: Reporter, subjects: string[]): void {
  const n = subjects.length;
  const what = `committed ${n} transition(s) that a killed tend process had carried out but not committed`;
  reporter.warn(`${what}:\n${subjects.map((s) => `  ${s}`).join('\n')}`);
}

/**
 * An item this run claimed but no job holds (its transition failed half-way, e.g. a human left
 * item.md invalid and fixed it later) goes back in the queue. `leftAlone`: the items jobs hold
 * (now or when the tick started) and those the run has given up on.
 */
export async function requeueStrayClaims(
  run: RunState,
  items: Item[],
  leftAlone: (id: string) => boolean,
): Promise<Happened> {
  const happened = nothingYet();
  for (const item of items) {
    if (item.fields.status !== 'running' || item.fields.owner !== run.owner || leftAlone(item.id)) continue;
    await run.attempt(happened, item, decideStrayRequeue(item));
  }
  return happened;
}

/**
 * Leases: a claim another clone's run holds is taken over once its phase's timeout plus
 * `git.lease_grace` has passed since the claim commit (its author date, which a rebase keeps).
 * Its run would have stopped the agent by then, so it has stopped itself. A phase without a
 * timeout has no lease.
 */
export async function takeOverExpiredLeases(
  run: RunState,
  items: Item[],
  leftAlone: (id: string) => boolean,
): Promise<Happened> {
  const happened = nothingYet();
  if (!run.remote) return happened;
  const { settings } = run.config;
  for (const item of items) {
    const owner = item.fields.owner;
    if (item.fields.status !== 'running' || !owner || owner === run.owner || leftAlone(item.id)) continue;
    const phase = pipelineOf(item, run.config)?.phases.find((p) => p.name === item.location);
    const timeout = phase?.timeout ?? settings.timeout;
    if (!phase || timeout === 0 || !heldByAnotherClone(run, owner)) continue;
    const claimed = await git(run.root, ['log', '-1', '--format=%at', '--', literal(item.file)]);
    const at = Number(claimed.stdout.trim()) * 1000;
    if (!Number.isFinite(at) || at === 0 || Date.now() < at + timeout + settings.git.lease_grace) continue;
    await run.attempt(happened, item, decideTakeover(item, phase, run.config, owner));
  }
  return happened;
}
