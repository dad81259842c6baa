// `tend approve`, `tend reject`, `tend retry`: a human's decisions about one item, each one
// commit.
import { finishPending } from '../../edges/journal.js';
import { applyTransition } from '../../engine/writer.js';
import type { Item } from '../../core/backlog.js';
import { decideApproval, decideRejection, decideRetry, type Decision } from '../../core/decide.js';
import { triageOf } from '../../engine/phase.js';
import { pipelineOf } from '../../core/scheduler.js';
import { settleWorkspace } from '../../edges/workspace.js';
import { checkCanCommit, git } from '../../edges/git.js';
import { TendError } from '../../core/problem.js';
import { openRepo, type Repo } from '../../edges/repo.js';

/**
 * The repository, with any transition a killed tend process left half done committed first, so
 * a command run again after a kill acts on the item where that transition left it; refused while
 * another tend process is moving item `id`.
 */
export async function openForAction(cwd: string, id: string): Promise<Repo> {
  const repo = await openRepo(cwd);
  const branch = (await git(repo.root, ['symbolic-ref', '--quiet', '--short', 'HEAD'])).stdout.trim();
  const { committed, busy } = await finishPending(repo.root, branch || undefined);
  if (busy.has(id)) throw new TendError(`another tend process is moving ${id} right now`, 'try again in a moment');
  if (committed.length === 0) return repo;
  process.stderr.write(
    `tend: committed ${committed.length} transition(s) a killed tend process had left uncommitted: ${committed.join('; ')}\n`,
  );
  return openRepo(cwd);
}

function findItem(repo: Repo, id: string): Item {
  const item = repo.snapshot.items.find((i) => i.id === id);
  if (item) return item;
  const invalid = repo.snapshot.invalid.find((i) => i.id === id);
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

async function apply(repo: Repo, item: Item, decision: Decision): Promise<string> {
  // A person's merge or rebase in progress, or no identity: refused before the move. (A locked
  // index is not waited for here: a commit that fails is finished later from the journal.)
  await checkCanCommit(repo.root, repo.config.settings.git.author, { waitForIndex: false });
  const branch = (await git(repo.root, ['symbolic-ref', '--quiet', '--short', 'HEAD'])).stdout.trim();
  // As for `tend run`: transitions (and merges) go on the branch tend works on, never elsewhere.
  if (!branch)
    throw new TendError('the checkout is on a detached HEAD', 'check out the branch tend works on, then try again');
  const wanted = repo.config.settings.git.branch;
  if (wanted && wanted !== branch)
    throw new TendError(
      `ORCHESTRATOR.md sets git.branch: ${wanted}, but ${branch} is checked out`,
      `check out ${wanted}, then try again`,
    );
  const d = await settleWorkspace(
    repo.root,
    item,
    decision,
    repo.config.settings,
    branch,
    new AbortController().signal,
  );
  await applyTransition(
    { root: repo.root, author: repo.config.settings.git.author, branch },
    item,
    d.to,
    d.changes,
    d.transition,
  );
  return `${item.id}: ${d.transition.summary}`;
}

export async function approve(repo: Repo, id: string): Promise<string> {
  const item = findItem(repo, id);
  if (item.fields.status !== 'waiting')
    throw new TendError(`${id} is not waiting for approval (status: ${item.fields.status}, in ${item.location}/)`);
  const { pipeline, phase } = phaseOf(repo, item);
  return apply(repo, item, decideApproval(item, pipeline, phase, repo.config, await triageOf(repo.root, item, phase)));
}

export async function reject(repo: Repo, id: string, reason: string, block: boolean): Promise<string> {
  const item = findItem(repo, id);
  if (item.fields.status !== 'waiting')
    throw new TendError(
      `${id} is not waiting for approval (status: ${item.fields.status}, in ${item.location}/)`,
      'only an item waiting for a human can be rejected',
    );
  const { phase } = phaseOf(repo, item);
  return apply(repo, item, decideRejection(item, phase, reason, block));
}

/** Put a blocked item back in the phase it was blocked in, or retry a failed/parked one now. */
export async function retry(repo: Repo, id: string): Promise<string> {
  const item = findItem(repo, id);
  return apply(repo, item, decideRetry(item, pipelineOf(item, repo.config)));
}
