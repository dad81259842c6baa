// `tend pr <id>`: a pull request for a finished item's branch, opened with gh, its URL committed
// on the item (`pr:` and a `Tend-PR` trailer) through the writer like any other transition.
import { DONE, type Item } from '../core/backlog.js';
import { TendError } from '../core/problem.js';
import { decidePullRequest } from '../core/pull-request.js';
import { openPullRequest } from '../edges/pull-request.js';
import { currentBranchFast } from '../edges/git.js';
import { fetchBranch, trackingRef } from '../edges/remote.js';
import { catchUpBranch, itemBranch, WorkspaceError } from '../edges/workspace.js';
import type { Repo } from '../edges/repo.js';
import { act } from './actions.js';

/** Opens the pull request and records it; returns the line the command prints. */
export async function openPr(repo: Repo, item: Item): Promise<string> {
  if (item.location !== DONE)
    throw new TendError(`${item.id} is in ${item.location}/, not done`, 'a pull request is opened for finished work');
  if (item.fields.pr) return `${item.id} already has a pull request: ${item.fields.pr}`;
  const { settings } = repo.config;
  const baseBranch = settings.git.branch ?? (await currentBranchFast(repo.root));
  if (!baseBranch) throw new TendError('the checkout is on a detached HEAD', 'check out the branch tend works on');
  await takeRemoteBranch(repo.root, item, settings.git.remote ?? 'origin');
  const opened = await openPullRequest({ root: repo.root, item, baseBranch, remote: settings.git.remote });
  if (!opened.ok) throw new TendError(`no pull request was opened: ${opened.reason}`, opened.fix);
  await act(repo, item, decidePullRequest(item, opened.url));
  return `${item.id}: pull request ${opened.url}`;
}

/**
 * The item's branch as the remote has it, when another clone built it (or built more): fetched
 * and brought in. A remote that cannot be reached leaves the branch as it is here (the push that
 * follows says what is wrong); both sides with commits of their own is refused, nothing moved.
 */
async function takeRemoteBranch(root: string, item: Item, remote: string): Promise<void> {
  const branch = itemBranch(item.id);
  if (item.fields.branch !== branch) return;
  try {
    if (!(await fetchBranch(root, remote, branch))) return;
  } catch {
    return;
  }
  try {
    await catchUpBranch(root, item.id, trackingRef(remote, branch), remote);
  } catch (err) {
    if (err instanceof WorkspaceError) throw new TendError(`no pull request was opened: ${err.message}`);
    throw err;
  }
}
