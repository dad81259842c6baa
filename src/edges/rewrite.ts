// Rewriting commits (a rebase, a merge) away from the person's checkout, then moving the
// checkout to the result the way `git checkout` moves between commits. A rebase in the checkout
// itself would stash the person's uncommitted work around it (`--autostash`), and a stash
// applied back turns their staged changes into unstaged ones; an agent's edit in flight would
// vanish for a moment. Here only the files that differ between the old and the new commit are
// written, and a local change in one of them stops the move before anything is touched.
import { mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { TendError } from '../core/problem.js';
import { adoptBranchTip, git, gitOk } from './git.js';
import { STATE_DIR } from './state-dir.js';

/** A local change (yours or an agent's) in a file the new commits change: nothing was moved. */
export class CheckoutBusy extends TendError {}

const NO_HOOKS = ['-c', 'core.hooksPath=/dev/null'];
/**
 * The scratch worktree is sparse and holds only `.gitattributes` files, so that tend's merge
 * driver applies: its cost follows the index, not the number of files written. Set per command,
 * so the repository's config is never changed.
 */
const SPARSE = ['-c', 'core.sparseCheckout=true', '-c', 'core.sparseCheckoutCone=false'];

export type Rewritten = { ok: true; commit: string } | { ok: false; why: string };

/**
 * `git rebase <args>` run on `tip` in a scratch worktree (`.tend/worktrees/.<name>`, made and
 * removed here). The new tip, or why the rebase stopped (it is aborted: nothing changed).
 */
export async function rebaseAside(
  root: string,
  name: string,
  tip: string,
  args: string[],
  env?: Record<string, string>,
): Promise<Rewritten> {
  const scratch = path.join(root, STATE_DIR, 'worktrees', `.${name}`);
  await removeScratch(root, scratch); // left by a run killed mid-rebase
  await mkdir(path.dirname(scratch), { recursive: true });
  const added = await git(root, [...NO_HOOKS, 'worktree', 'add', '--quiet', '--no-checkout', '--detach', scratch, tip]);
  if (added.exitCode !== 0) return { ok: false, why: `could not make a scratch worktree: ${added.stderr.trim()}` };
  try {
    const gitDir = (await gitOk(scratch, ['rev-parse', '--absolute-git-dir'])).trim();
    await mkdir(path.join(gitDir, 'info'), { recursive: true });
    await writeFile(path.join(gitDir, 'info', 'sparse-checkout'), '.gitattributes\n');
    await gitOk(scratch, [...SPARSE, 'read-tree', '-mu', 'HEAD']);
    const rebase = await git(scratch, [...SPARSE, ...NO_HOOKS, 'rebase', '--quiet', ...args], { env });
    if (rebase.exitCode !== 0) {
      await git(scratch, [...SPARSE, 'rebase', '--abort']);
      return { ok: false, why: `${rebase.stdout}\n${rebase.stderr}`.trim() };
    }
    return { ok: true, commit: (await gitOk(scratch, ['rev-parse', 'HEAD'])).trim() };
  } finally {
    await removeScratch(root, scratch);
  }
}

async function removeScratch(root: string, scratch: string): Promise<void> {
  await git(root, ['worktree', 'remove', '--force', scratch]);
  await rm(scratch, { recursive: true, force: true });
  await git(root, ['worktree', 'prune']);
}

/**
 * A merge commit of `theirs` into `ours` (first parent ours), made without a checkout; tend's
 * merge driver applies through `.gitattributes`. Undefined on a conflict.
 */
export async function mergeAside(
  root: string,
  ours: string,
  theirs: string,
  message: string,
): Promise<string | undefined> {
  const merged = await git(root, ['merge-tree', '--write-tree', ours, theirs]);
  if (merged.exitCode !== 0) return undefined;
  const tree = merged.stdout.split('\n')[0]?.trim() ?? '';
  const made = await gitOk(root, ['commit-tree', tree, '-p', ours, '-p', theirs], { input: message });
  return made.trim();
}

/**
 * Move `branch`, checked out in `root`, from commit `from` to `to`: the files and index entries
 * that differ between the two are updated, and nothing else (your staged and unstaged changes
 * elsewhere stay as they were). CheckoutBusy, with nothing moved, when a file that must change
 * has a local change or an untracked file stands where a new one goes.
 */
export async function moveCheckout(root: string, branch: string, from: string, to: string, why: string): Promise<void> {
  // Fresh stat data, so that a file merely touched is not taken for a local change.
  await git(root, ['update-index', '-q', '--refresh']);
  const moved = await git(root, ['read-tree', '-m', '-u', from, to]);
  if (moved.exitCode !== 0) {
    throw new CheckoutBusy(
      `${why} would overwrite local changes: ${describe(moved.stderr)}`,
      'commit or stash those files (or wait for the agent working on them to finish); tend tries again',
    );
  }
  const ref = await git(root, ['update-ref', '-m', why, `refs/heads/${branch}`, to, from]);
  if (ref.exitCode !== 0) {
    await git(root, ['read-tree', '-m', '-u', to, from]);
    throw new TendError(`${branch} moved while tend was updating it (${ref.stderr.trim()}); nothing was changed`);
  }
  await adoptBranchTip(root, branch);
}

function describe(stderr: string): string {
  const files = [...stderr.matchAll(/^\s+(\S.*)$/gm)].map((m) => m[1]);
  const entries = [...stderr.matchAll(/Entry '([^']+)'/g)].map((m) => m[1]);
  const named = [...new Set([...entries, ...files])].filter(
    (f): f is string => Boolean(f) && !/^Please|^Aborting/.test(f ?? ''),
  );
  return named.length > 0 ? named.slice(0, 5).join(', ') : (stderr.trim().split('\n')[0] ?? 'unknown');
}
