// Items left `running` with no agent working on them go back in the queue: at the start, those
// of a run that ended without cleaning up; on every tick, those this run claimed but no job holds.
import os from 'node:os';
import path from 'node:path';
import { stopOrphanedAgents } from '../agents/process.js';
import { BLOCKED, DONE, INBOX, type Item } from '../backlog/store.js';
import { decideRecovery } from './decide.js';
import { AGENT_PID_DIR } from './phase.js';
import type { RunState } from './run-state.js';
import { pipelineOf } from './scheduler.js';

/** Stop agents a killed run left behind and requeue the items it held. */
export async function recoverPreviousRun(run: RunState, items: Item[]): Promise<void> {
  const orphans = await stopOrphanedAgents(path.join(run.root, AGENT_PID_DIR));
  if (orphans > 0) run.reporter.warn(`stopped ${orphans} agent process group(s) left running by a run that was killed`);
  // Items a previous run left `running` are requeued; the interrupted attempt counts.
  for (const item of items) {
    if (item.location === INBOX || item.location === DONE || item.fields.status !== 'running') continue;
    const host = item.fields.owner?.split(':')[0];
    if (host !== undefined && host !== os.hostname() && run.config.settings.git.remote) continue;
    const phase = pipelineOf(item, run.config)?.phases.find((p) => p.name === item.location);
    const d = decideRecovery(item, phase, run.config);
    if ((await run.attempt(item, d)) && d.to === BLOCKED) run.summary.blocked.push(item.id);
  }
}

/**
 * An item this run claimed but no job holds (its transition failed half-way, e.g. a human left
 * item.md invalid and fixed it later) goes back in the queue. True if any did.
 */
export async function requeueStrayClaims(run: RunState, items: Item[], activeAtStart: ReadonlySet<string>): Promise<boolean> {
  let changed = false;
  for (const item of items) {
    if (item.fields.status !== 'running' || item.fields.owner !== run.owner || activeAtStart.has(item.id) || run.active.has(item.id) || run.broken.has(item.id)) continue;
    changed = (await run.attempt(item, { changes: { status: 'queued', owner: undefined }, transition: { id: item.id, phase: item.location, summary: `${item.location} requeued`, outcome: 'requeued' } })) || changed;
  }
  return changed;
}
