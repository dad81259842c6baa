// `tend approve`, `tend reject`, `tend retry`, `tend redo`: a human's decisions about one item, each one
// commit, carried out by the engine (src/engine/actions.ts).
import type { Item } from '../../core/backlog.js';
import { decideApproval, decideRedo, decideRejection, decideRetry } from '../../core/decide.js';
import { TendError } from '../../core/problem.js';
import { pipelineOf } from '../../core/scheduler.js';
import { findById, type Repo } from '../../edges/repo.js';
import { act } from '../../engine/actions.js';
import { triageOf } from '../../engine/phase.js';

async function findItem(repo: Repo, id: string): Promise<Item> {
  const { item, invalid } = await findById(repo, id);
  if (item) return item;
  if (invalid)
    throw new TendError(
      `${id} is invalid: ${invalid.problems[0]?.message ?? ''}`,
      `fix ${invalid.path} first (see \`tend show ${id}\`)`,
    );
  throw new TendError(`no item with id ${id}`, 'see `tend status` for the ids');
}

function phaseOf(repo: Repo, item: Item) {
  const pipeline = pipelineOf(item, repo.config);
  const phase = pipeline?.phases.find((p) => p.name === item.location);
  if (!pipeline || !phase) throw new TendError(`${item.id} is in ${item.location}/, not in a phase of its pipeline`);
  return { pipeline, phase };
}

export async function approve(repo: Repo, id: string): Promise<string> {
  const item = await findItem(repo, id);
  if (item.fields.status !== 'waiting')
    throw new TendError(`${id} is not waiting for approval (status: ${item.fields.status}, in ${item.location}/)`);
  const { pipeline, phase } = phaseOf(repo, item);
  return act(repo, item, decideApproval(item, pipeline, phase, repo.config, await triageOf(repo.root, item, phase)));
}

export async function reject(repo: Repo, id: string, reason: string, block: boolean): Promise<string> {
  const item = await findItem(repo, id);
  if (item.fields.status !== 'waiting')
    throw new TendError(
      `${id} is not waiting for approval (status: ${item.fields.status}, in ${item.location}/)`,
      'only an item waiting for a human can be rejected',
    );
  const { phase } = phaseOf(repo, item);
  return act(repo, item, decideRejection(item, phase, reason, block));
}

/** Put a blocked item back in the phase it was blocked in, or retry a failed/parked one now. */
export async function retry(repo: Repo, id: string): Promise<string> {
  const item = await findItem(repo, id);
  return act(repo, item, decideRetry(item, pipelineOf(item, repo.config)));
}

/** Open a pull request for a finished item's branch, and record it on the item. */
export async function pr(repo: Repo, id: string): Promise<string> {
  const { openPr } = await import('../../engine/pull-request.js');
  return openPr(repo, await findItem(repo, id));
}

/** A phase name the item's pipeline does not have: a usage error (exit 2). */
export class UnknownPhase extends TendError {}

/** Send an item back to rerun from phase `from`, with what changed by hand as feedback. */
export async function redo(repo: Repo, id: string, from: string, reason?: string): Promise<string> {
  const item = await findItem(repo, id);
  const pipeline = pipelineOf(item, repo.config);
  if (!pipeline) throw new TendError(`${id} has no pipeline to go back in`, 'set pipeline: in its item.md');
  const phase = pipeline.phases.find((p) => p.name === from);
  if (!phase) {
    const names = pipeline.phases.map((p) => p.name).join(', ');
    throw new UnknownPhase(`${pipeline.name} has no phase ${JSON.stringify(from)}`, `--from takes one of: ${names}`);
  }
  return act(repo, item, decideRedo(item, pipeline, phase, reason));
}
