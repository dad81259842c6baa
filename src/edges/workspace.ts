// Where an agent works. `repo`: the checkout itself. `worktree`: the item's own git worktree in
// .tend/worktrees/<id> on branch tend/<id>, created from the base branch, so parallel builds
// never touch the same files and the user's checkout is never switched or modified by a build.
import { existsSync } from 'node:fs';
import { appendFile, mkdir, readdir, readFile, realpath, rename, rm, rmdir } from 'node:fs/promises';
import path from 'node:path';
import type { Settings } from '../core/settings.js';
import { authorEnv, currentBranchFast, git, withGitLock } from './git.js';
import { BACKLOG_DIR, BLOCKED, DONE, type Item } from '../core/backlog.js';
import { TendError } from '../core/problem.js';
import { decideMergeFailed, type Decision } from '../core/decide.js';
import { itemLogDir, STATE_DIR } from './state-dir.js';
import { rebaseAside } from './rewrite.js';

export const WORKTREES_DIR = path.join(STATE_DIR, 'worktrees');

export interface Workspace {
  kind: 'repo' | 'worktree';
  /** Absolute directory the agent runs in. */
  dir: string;
  /** The branch work is committed on there. */
  branch: string;
  baseBranch: string;
  diffCommand: string;
}

export function itemBranch(id: string): string {
  return `tend/${id}`;
}

export function worktreeDir(root: string, id: string): string {
  return path.join(root, WORKTREES_DIR, id);
}

async function gitOrFail(
  cwd: string,
  args: string[],
  what: string,
  env?: Record<string, string>,
  input?: string,
): Promise<string> {
  const result = await git(cwd, args, { env, input });
  if (result.exitCode !== 0) throw new WorkspaceError(`${what}: ${firstLine(result.stderr || result.stdout)}`);
  return result.stdout;
}

/** A branch name as a shell word (the agent runs `diff_command` in a shell). */
function shellWord(name: string): string {
  return /^[A-Za-z0-9._/-]+$/.test(name) ? name : `'${name.replace(/'/g, `'\\''`)}'`;
}

/** Keep .tend/ out of every worktree's `git add -A`, whatever the user's .gitignore says. */
async function excludeStateDir(root: string): Promise<void> {
  const common = (await git(root, ['rev-parse', '--git-common-dir'])).stdout.trim();
  const exclude = path.resolve(root, common, 'info', 'exclude');
  const text = existsSync(exclude) ? await readFile(exclude, 'utf8') : '';
  if (text.split('\n').some((l) => l.trim() === '.tend/')) return;
  await mkdir(path.dirname(exclude), { recursive: true });
  await appendFile(exclude, `${text === '' || text.endsWith('\n') ? '' : '\n'}.tend/\n`);
}

/** Add the item's worktree: on its existing branch, or on a new one from the base branch. */
async function addWorktree(root: string, id: string, baseBranch: string): Promise<void> {
  const branch = itemBranch(id);
  const dir = worktreeDir(root, id);
  await mkdir(path.dirname(dir), { recursive: true });
  await excludeStateDir(root);
  const fresh = !(await branchExists(root, branch));
  // A folder there that is no worktree of this repository (git forgot it, or the repository
  // moved) is set aside, never worked in: git inside it would reach the user's own checkout.
  if (existsSync(dir)) await rename(dir, `${path.dirname(dir)}/.orphan-${id}-${Date.now()}`);
  await git(root, ['worktree', 'prune']);
  const add = ['worktree', 'add', '--quiet', '--no-checkout'];
  const args = fresh ? [...add, '-b', branch, dir, baseBranch] : [...add, dir, branch];
  await gitOrFail(root, ['-c', 'core.hooksPath=/dev/null', ...args], `could not create the worktree for ${id}`);
  await checkOutAllButBacklog(dir, id);
  if (fresh) await forgetReviewed(root, id); // an earlier item's with this id
}

/**
 * Fill a new worktree with everything but backlog/: the agent reads its item through the paths
 * the prompt gives (in the main checkout), and checking out every finished item's folder made a
 * worktree take seconds at 1,000 items and a minute at 10,000. backlog/ stays in the worktree's
 * index marked skip-worktree (what sparse checkout does, without changing the repository's
 * config), so the branch keeps it as it was and `git commit -a` or `git add -A` never delete it.
 */
async function checkOutAllButBacklog(dir: string, id: string, listed?: Promise<string>): Promise<void> {
  const what = `could not check out the worktree for ${id}`;
  await gitOrFail(dir, ['reset', '--quiet'], what);
  const backlog = (await listed) ?? (await gitOrFail(dir, ['ls-files', '-z', '--', `${BACKLOG_DIR}/`], what));
  if (backlog) await gitOrFail(dir, ['update-index', '-z', '--skip-worktree', '--stdin'], what, undefined, backlog);
  await gitOrFail(dir, ['checkout-index', '--all', '--quiet', '-u'], what); // -u: stat data, or every diff rehashes
}

const commonDirs = new Map<string, string>();

/** Whether `dir` is a live worktree of the repository at `root` (not just a folder with a .git). */
async function isWorktree(root: string, dir: string): Promise<boolean> {
  if (!existsSync(path.join(dir, '.git'))) return false;
  const mine = await git(dir, ['rev-parse', '--path-format=absolute', '--show-toplevel', '--git-common-dir']);
  const [top = '', common = ''] = mine.stdout.split('\n');
  if (mine.exitCode !== 0 || top !== (await realpath(dir))) return false;
  let rootCommon = commonDirs.get(root);
  if (rootCommon === undefined) {
    rootCommon = (await git(root, ['rev-parse', '--path-format=absolute', '--git-common-dir'])).stdout.trim();
    commonDirs.set(root, rootCommon);
  }
  return common.trim() === rootCommon;
}

export async function branchExists(root: string, branch: string): Promise<boolean> {
  return (await git(root, ['rev-parse', '--quiet', '--verify', `refs/heads/${branch}`])).exitCode === 0;
}

/** What bringing an item's branch up to the remote's did. */
export type CaughtUp = 'none' | 'created' | 'fast-forwarded' | 'current';

/**
 * Bring the item's branch up to `upstream` (the remote's `tend/<id>` as last fetched), so a phase,
 * a merge or a pull request on this clone has the work another clone built: created when missing,
 * fast-forwarded when behind, in the item's worktree when there is one (so it sees the commits).
 * A branch with commits of its own that the remote lacks is kept ('current': the next sync pushes
 * them). When both sides have commits of their own, nothing moves: tend cannot tell which is the
 * item's work, so a WorkspaceError says so, names both tips and how to keep one.
 */
export async function catchUpBranch(root: string, id: string, upstream: string, remote: string): Promise<CaughtUp> {
  const theirs = await commitOf(root, upstream);
  if (!theirs) return 'none';
  const branch = itemBranch(id);
  return withGitLock(async () => {
    const ours = await commitOf(root, `refs/heads/${branch}`);
    if (!ours) {
      // An empty old value: created only if no other process made it meanwhile.
      await gitOrFail(root, ['update-ref', `refs/heads/${branch}`, theirs, ''], `could not create ${branch}`);
      return 'created';
    }
    if (ours === theirs || (await isAncestor(root, theirs, ours))) return 'current';
    if (!(await isAncestor(root, ours, theirs)))
      throw new WorkspaceError(await diverged(root, id, ours, theirs, remote));
    const dir = worktreeDir(root, id);
    if ((await isWorktree(root, dir)) && !(await offBranch(root, dir, branch))) {
      // In the worktree, so its files follow; git refuses if uncommitted changes are in the way.
      const ff = ['-c', 'core.hooksPath=/dev/null', '-c', 'merge.autoStash=false', 'merge', '--ff-only', '--quiet'];
      await gitOrFail(dir, [...ff, theirs], `could not bring ${branch} up to ${remote}'s in its worktree`);
    } else {
      await gitOrFail(root, ['update-ref', `refs/heads/${branch}`, theirs, ours], `could not update ${branch}`);
    }
    return 'fast-forwarded';
  });
}

async function isAncestor(root: string, commit: string, of: string): Promise<boolean> {
  return (await git(root, ['merge-base', '--is-ancestor', commit, of])).exitCode === 0;
}

/** Why the item's branch and the remote's cannot both be kept on one tip, and how to keep one. */
async function diverged(root: string, id: string, ours: string, theirs: string, remote: string): Promise<string> {
  const branch = itemBranch(id);
  const counts = await gitOrFail(root, ['rev-list', '--left-right', '--count', `${ours}...${theirs}`], 'rev-list');
  const [here = '?', there = '?'] = counts.trim().split(/\s+/);
  const [a, b] = [ours.slice(0, 12), theirs.slice(0, 12)];
  // A branch checked out in the item's worktree is moved there (`git branch -f` refuses it).
  const dir = worktreeDir(root, id);
  const keepTheirs = (await isWorktree(root, dir))
    ? `git -C ${path.relative(root, dir)} reset --keep ${b}`
    : `git branch -f ${branch} ${b}`;
  return (
    `${branch} here (${a}) and on ${remote} (${b}) each have commits the other lacks ` +
    `(${here} here, ${there} there), so tend does not pick one to build on or merge; ` +
    `keep ${remote}'s with \`${keepTheirs}\` (yours stay at ${a}), or yours with ` +
    `\`git push --force ${remote} ${branch}\`, then \`tend retry ${id}\``
  );
}

export type HookName = 'after_create' | 'before_run' | 'after_run' | 'before_remove';

/** Run a workspace hook (a shell command from ORCHESTRATOR.md) in `dir`. Returns a failure text or undefined. */
export async function runHook(
  name: HookName,
  settings: Settings,
  dir: string,
  logDir: string,
  signal: AbortSignal,
  lens?: string,
): Promise<string | undefined> {
  const command = settings.hooks[name];
  if (!command) return undefined;
  // Lenses run their hooks side by side: each writes its own log.
  const logFile = path.join(logDir, `hook-${name}${lens ? `-${lens}` : ''}.log`);
  // Loaded here, not at the top: `tend add` and `approve` reach this module through the writer,
  // and a data command must not load the process runner it never uses.
  const { runProcess } = await import('./process.js');
  const result = await runProcess({
    command: 'sh',
    args: ['-c', command],
    cwd: dir,
    timeoutMs: settings.hooks.timeout,
    stallTimeoutMs: settings.hooks.timeout,
    logFile,
    logMaxBytes: settings.log_max_bytes,
    signal,
  });
  if (result.exitCode === 0) return undefined;
  const why = result.spawnError ?? (result.stopped ? `stopped (${result.stopped})` : `exit ${result.exitCode}`);
  return `hook ${name} (\`${command}\`) failed: ${why}; see ${logFile}`;
}

/**
 * The item `from` is now `to` (a sync found its id taken by another clone's item): its work
 * branch, worktree, reviewed commit and logs follow it, so the other item's `tend/<from>` is
 * never taken for this one's. Returns what could not follow (it stays under the old name).
 */
export async function renameWorkspace(root: string, from: string, to: string): Promise<string | undefined> {
  const [oldBranch, newBranch] = [itemBranch(from), itemBranch(to)];
  const steps: [boolean, string[]][] = [
    [await branchExists(root, oldBranch), ['branch', '-m', oldBranch, newBranch]],
    [
      await isWorktree(root, worktreeDir(root, from)),
      ['worktree', 'move', worktreeDir(root, from), worktreeDir(root, to)],
    ],
  ];
  for (const [needed, args] of steps) {
    if (!needed) continue;
    const result = await git(root, args);
    if (result.exitCode !== 0)
      return `${from}'s ${args[0]} could not follow it to ${to}: ${describeGitError(result.stderr)}`;
  }
  const reviewed = await git(root, ['rev-parse', '--verify', '--quiet', reviewedRef(from)]);
  if (reviewed.exitCode === 0) {
    await git(root, ['update-ref', reviewedRef(to), reviewed.stdout.trim()]);
    await forgetReviewed(root, from);
  }
  const [oldLogs, newLogs] = [itemLogDir(root, from), itemLogDir(root, to)];
  if (existsSync(oldLogs) && !existsSync(newLogs)) await rename(oldLogs, newLogs);
  return undefined;
}

/** Where the commit a review saw is kept: the merge takes that, never what came after it. */
function reviewedRef(id: string): string {
  return `refs/tend/reviewed/${id}`;
}

/** Drop the reviewed commit: the work landed, or the item (or an earlier one with its id) is gone. */
export async function forgetReviewed(root: string, id: string): Promise<void> {
  await git(root, ['update-ref', '-d', reviewedRef(id)]);
}

/**
 * The workspace for a phase, creating the item's worktree (and branch) when it does not exist,
 * e.g. on the first worktree phase or after `.tend/` was deleted. Runs after_create on creation.
 * `reviewing`: this phase judges the work (it has `on_reject`), so the commit it starts from is
 * kept as the one to merge.
 */
export async function prepareWorkspace(
  root: string,
  id: string,
  kind: 'repo' | 'worktree',
  baseBranch: string,
  settings: Settings,
  logDir: string,
  signal: AbortSignal,
  recordedBranch?: string,
  reviewing = false,
  upstream?: { ref: string; remote: string },
): Promise<Workspace> {
  if (kind === 'repo') return { kind, dir: root, branch: baseBranch, baseBranch, diffCommand: 'git diff HEAD' };
  const branch = itemBranch(id);
  const dir = worktreeDir(root, id);
  const workspace: Workspace = {
    kind,
    dir,
    branch,
    baseBranch,
    diffCommand: `git diff ${shellWord(baseBranch)}...${branch}`,
  };
  // The item records its branch when it first claims a worktree phase, and only if no such
  // branch existed (here, or on the remote): one that did is an earlier item's with the same id,
  // never built upon. The remote's branch of this item is brought in first (upstream, when synced).
  if (recordedBranch !== branch) await refuseOthersBranch(root, id, upstream);
  else if (upstream) await catchUpBranch(root, id, upstream.ref, upstream.remote);
  if (await isWorktree(root, dir)) {
    const off = await offBranch(root, dir, branch);
    if (off) throw new WorkspaceError(off);
    // What an earlier phase (or attempt) left uncommitted goes on the branch before this one
    // starts, so a review's diff holds everything.
    await commitLeftovers(dir, `the worktree of ${id}`, settings.git.author);
  } else {
    await withGitLock(() => addWorktree(root, id, baseBranch));
    const failure = await runHook('after_create', settings, dir, logDir, signal);
    if (failure) {
      await removeWorktree(root, id, settings, logDir, signal, { runHook: false });
      throw new WorkspaceError(failure);
    }
  }
  if (reviewing)
    await gitOrFail(
      root,
      ['update-ref', reviewedRef(id), `refs/heads/${branch}`],
      `could not note the commit ${id}'s review starts from`,
    );
  return workspace;
}

/** A branch tend/<id> here or on the remote that the item did not record is an earlier item's: refused. */
async function refuseOthersBranch(root: string, id: string, upstream?: { ref: string; remote: string }) {
  const branch = itemBranch(id);
  if (await branchExists(root, branch)) {
    throw new WorkspaceError(
      `a branch ${branch} already exists but is not this item's (left by an earlier item with the same id?)`,
      `delete it (git branch -D ${branch}) or rename it, then \`tend retry ${id}\``,
    );
  }
  if (upstream && (await commitOf(root, upstream.ref))) {
    const { remote } = upstream;
    throw new WorkspaceError(
      `a branch ${branch} already exists on ${remote} but is not this item's ` +
        '(left by an earlier item with the same id?)',
      `delete it there (git push ${remote} --delete ${branch}) or rename it, then \`tend retry ${id}\``,
    );
  }
}

/** A workspace hook failed: the attempt fails (it counts), the run goes on. */
export class WorkspaceError extends TendError {}

/** Why the item's worktree is not on its branch (an agent switched or detached it), or undefined. */
async function offBranch(root: string, dir: string, branch: string): Promise<string | undefined> {
  const head = (await git(dir, ['symbolic-ref', '--quiet', 'HEAD'])).stdout.trim();
  if (head === `refs/heads/${branch}`) return undefined;
  const rel = path.relative(root, dir);
  const on = head.replace('refs/heads/', '') || 'a detached HEAD';
  const fix = `check out ${branch} there (\`git -C ${rel} checkout ${branch}\`), then \`tend retry\``;
  return `the worktree ${rel} is on ${on}, not ${branch} (an agent switched it); ${fix}`;
}

/**
 * Remove the item's worktree; the branch stays. Work an agent left uncommitted is committed on
 * the branch first, and a HEAD an agent moved off the branch is kept under refs/tend/kept/, so
 * nothing is lost; if the leftovers cannot be committed, the worktree stays.
 */
export async function removeWorktree(
  root: string,
  id: string,
  settings: Settings,
  logDir: string,
  signal: AbortSignal,
  options: { runHook?: boolean; warn?: (message: string) => void } = {},
): Promise<void> {
  const dir = worktreeDir(root, id);
  // Lens worktrees left by a run cut off mid-review (or one whose clean-up failed) go first;
  // `warn` tells of lens work they held.
  const warn = options.warn ?? (() => undefined);
  const [failed] = await closeLeftoverLensWorktrees({ root, id, settings, logDir, signal, warn });
  if (failed) throw failed.error;
  if (!existsSync(dir)) return;
  if (!(await isWorktree(root, dir))) {
    // Not a worktree (see addWorktree): set aside untouched, never committed from.
    await rename(dir, `${path.dirname(dir)}/.orphan-${id}-${Date.now()}`);
    await git(root, ['worktree', 'prune']);
    return;
  }
  if (options.runHook !== false) await runHook('before_remove', settings, dir, logDir, signal);
  const off = await offBranch(root, dir, itemBranch(id));
  // Off its branch: leftovers go on a detached HEAD kept under refs/tend/kept/, never onto
  // whatever branch the agent switched to.
  if (off) await gitOrFail(dir, ['checkout', '--quiet', '--detach'], `could not detach the worktree of ${id}`);
  await commitLeftovers(dir, `the worktree of ${id}`, settings.git.author);
  if (off)
    await gitOrFail(
      dir,
      ['update-ref', `refs/tend/kept/${id}-${Date.now()}`, 'HEAD'],
      `could not keep the worktree's HEAD of ${id}`,
    );
  await withGitLock(async () => {
    await git(root, ['worktree', 'remove', '--force', dir]);
    await git(root, ['worktree', 'prune']);
  });
}

/** Commit, as tend, what an agent left uncommitted in a worktree (`of`: "the worktree of <id>"). */
async function commitLeftovers(dir: string, of: string, author: string | undefined): Promise<void> {
  if ((await gitOrFail(dir, ['status', '--porcelain'], `could not read ${of}`)).trim() === '') return;
  // Never backlog/: it is not checked out here, and a lost skip-worktree bit must not read as its deletion.
  const add = ['add', '--all', '--', '.', `:(exclude)${BACKLOG_DIR}/`];
  await gitOrFail(dir, add, `could not commit the work left in ${of}`);
  await gitOrFail(
    dir,
    [
      '-c',
      'core.hooksPath=/dev/null',
      'commit',
      '--quiet',
      '--no-verify',
      '-m',
      `tend: work left uncommitted in ${of}`,
    ],
    `could not commit the work left in ${of}`,
    authorEnv(author),
  );
}

/** git.author commits copies of others' commits (a rebase, a cherry-pick); their authors stay who they were. */
function committerEnv(author: string | undefined): Record<string, string> {
  return Object.fromEntries(Object.entries(authorEnv(author)).filter(([k]) => k.startsWith('GIT_COMMITTER_')));
}

/** Where the worktrees of an item's fan-out lenses live while its phase runs (ids never start with a dot). */
function lensesDir(root: string, id: string): string {
  return path.join(root, WORKTREES_DIR, '.lenses', id);
}

export function lensWorktreeDir(root: string, id: string, lens: string): string {
  return path.join(lensesDir(root, id), lens);
}

/** What work on an item's lens worktrees needs: where, with which settings, and whom to tell. */
export interface LensContext {
  root: string;
  id: string;
  settings: Settings;
  logDir: string;
  signal: AbortSignal;
  warn: (message: string) => void;
  /** The files under backlog/ at the commit the lenses start from, listed once for all of them. */
  backlog?: Promise<string>;
}

/** The files under backlog/ at the tip of `branch`, NUL-separated as `git ls-files -z` gives them. */
export async function backlogFilesAt(root: string, branch: string): Promise<string> {
  const listed = ['ls-tree', '-r', '-z', '--name-only', `refs/heads/${branch}`, '--', `${BACKLOG_DIR}/`];
  return gitOrFail(root, listed, `could not list ${BACKLOG_DIR}/ on ${branch}`);
}

/** Where a lens worktree notes the commit its agent starts from: a ref of that worktree alone, gone with it. */
const LENS_BASELINE = 'refs/worktree/tend-baseline';

/**
 * A fan-out lens's own worktree, detached at the commit the item's branch is on: the lenses run
 * side by side, and two agents running git in one worktree collide on its index.lock. Like the
 * item's worktree it holds everything but backlog/ and runs after_create, then before_run.
 * Leftovers of an earlier attempt must be collected first (closeLeftoverLensWorktrees).
 */
export async function openLensWorktree(ctx: LensContext, item: Workspace, lens: string): Promise<Workspace> {
  const { root, id, settings, logDir, signal } = ctx;
  const dir = lensWorktreeDir(root, id, lens);
  const add = ['-c', 'core.hooksPath=/dev/null', 'worktree', 'add', '--quiet', '--no-checkout', '--detach'];
  const what = `could not create the worktree of the ${lens} lens of ${id}`;
  await withGitLock(async () => {
    await mkdir(path.dirname(dir), { recursive: true }); // under the lock, which also removes empty folders here
    await gitOrFail(root, [...add, dir, `refs/heads/${item.branch}`], what);
  });
  try {
    await checkOutAllButBacklog(dir, id, ctx.backlog);
    for (const hook of ['after_create', 'before_run'] as const) {
      const failure = await runHook(hook, settings, dir, logDir, signal, lens);
      if (failure) throw new WorkspaceError(failure);
    }
    await markLensReady(dir, lens, id);
  } catch (err) {
    // Not ready: it holds no lens work, and goes without anything committed.
    await closeLensWorktrees(ctx, [lens], { runHook: false });
    throw err;
  }
  return { ...item, dir };
}

/**
 * What the hooks left (a package-lock.json rewritten by `npm install`, a node_modules symlink)
 * is committed in the lens worktree as its baseline, and the baseline noted: the lens's work is
 * only what comes after it, and a worktree without one (its checkout or hooks cut off) has none.
 */
async function markLensReady(dir: string, lens: string, id: string): Promise<void> {
  const what = `could not note where the ${lens} lens of ${id} starts`;
  await gitOrFail(dir, ['add', '--all', '--', '.', `:(exclude)${BACKLOG_DIR}/`], what);
  if ((await git(dir, ['diff', '--cached', '--quiet'])).exitCode !== 0) {
    // Never picked onto a branch (only what comes after it is), so tend's own name will do.
    const env = authorEnv('tend <tend@localhost>');
    const commit = ['-c', 'core.hooksPath=/dev/null', 'commit', '--quiet', '--no-verify', '-m'];
    await gitOrFail(dir, [...commit, `tend: the ${lens} lens worktree of ${id} as its hooks left it`], what, env);
  }
  await gitOrFail(dir, ['update-ref', LENS_BASELINE, 'HEAD'], what);
}

/** The commit a lens worktree's agent started from, or '' when it never got that far. */
async function lensBaseline(dir: string): Promise<string> {
  return commitOf(dir, LENS_BASELINE);
}

/**
 * Remove lens worktrees (before_remove runs first) once what their agents committed or left
 * there is kept (keepLensWork). The worktrees are looked at side by side and their work carried
 * onto the branch lens by lens, in the order given; then the folders go and git forgets them in
 * one prune. A worktree whose work cannot be committed is left as it is, and returned.
 */
export async function closeLensWorktrees(
  ctx: LensContext,
  lenses: string[],
  options = { runHook: true },
): Promise<{ lens: string; error: WorkspaceError }[]> {
  const { root, id } = ctx;
  const present = lenses.filter((lens) => existsSync(lensWorktreeDir(root, id, lens)));
  if (present.length === 0) return [];
  const looks = await Promise.all(present.map((lens) => lookAtLens(ctx, lens, options.runHook)));
  const failed: { lens: string; error: WorkspaceError }[] = [];
  const removable: string[] = [];
  for (const [i, lens] of present.entries()) {
    const look = looks[i];
    if (look === 'orphan') continue;
    if (typeof look === 'object') {
      try {
        await keepLensWork(root, id, lens, look.baseline, ctx);
      } catch (err) {
        if (!(err instanceof WorkspaceError)) throw err;
        failed.push({ lens, error: err });
        continue;
      }
    }
    removable.push(lens);
  }
  await Promise.all(removable.map((lens) => rm(lensWorktreeDir(root, id, lens), { recursive: true, force: true })));
  await withGitLock(async () => {
    await git(root, ['worktree', 'prune']);
    // The item's folder of lens worktrees, then .lenses/, once empty.
    if (
      await rmdir(lensesDir(root, id)).then(
        () => true,
        () => false,
      )
    )
      await rmdir(path.dirname(lensesDir(root, id))).catch(() => undefined);
  });
  return failed;
}

/**
 * Whether a lens's worktree holds work to keep (`{ baseline }`, the commit its agent started
 * from: a commit, a change, a branch checked out since) or none (`clean`, or `unready`: its
 * agent never started); a folder that is no worktree is set aside untouched (`orphan`, see
 * addWorktree). before_remove runs in a worktree.
 */
async function lookAtLens(
  ctx: LensContext,
  lens: string,
  runHooks: boolean,
): Promise<'orphan' | 'unready' | 'clean' | { baseline: string }> {
  const dir = lensWorktreeDir(ctx.root, ctx.id, lens);
  if (!(await isWorktree(ctx.root, dir))) {
    await rename(dir, path.join(lensesDir(ctx.root, ctx.id), `.orphan-${lens}-${Date.now()}`));
    return 'orphan';
  }
  if (runHooks) await runHook('before_remove', ctx.settings, dir, ctx.logDir, ctx.signal, lens);
  const baseline = await lensBaseline(dir);
  if (!baseline) return 'unready';
  // One git for three questions: the commit HEAD is on, whether it is detached, and any change.
  const status = await git(dir, ['status', '--porcelain=v2', '--branch']);
  const lines = status.stdout.split('\n').filter(Boolean);
  const clean =
    status.exitCode === 0 &&
    lines.every((l) => l.startsWith('# ')) &&
    lines.includes(`# branch.oid ${baseline}`) &&
    lines.includes('# branch.head (detached)');
  return clean ? 'clean' : { baseline };
}

/**
 * Every lens worktree the item has, one after another: a run cut off mid-review left them (or
 * their clean-up failed). Returns those that could not be closed.
 */
export async function closeLeftoverLensWorktrees(ctx: LensContext): Promise<{ lens: string; error: WorkspaceError }[]> {
  const lenses = await readdir(lensesDir(ctx.root, ctx.id)).catch(() => []);
  return closeLensWorktrees(
    ctx,
    lenses.filter((l) => !l.startsWith('.')),
  );
}

/**
 * What a lens committed or left uncommitted in its worktree since its baseline (markLensReady)
 * goes on the item's branch, after the commit the review started from: it is never merged
 * unreviewed, and nothing is lost. Work that does not apply there (it conflicts with another
 * lens's, or the lens switched its worktree to a branch or moved it off its baseline) is kept
 * under refs/tend/kept/. Either is reported: a review should not change code.
 */
async function keepLensWork(root: string, id: string, lens: string, baseline: string, ctx: LensContext): Promise<void> {
  const dir = lensWorktreeDir(root, id, lens);
  const author = ctx.settings.git.author;
  const who = `${id}: the ${lens} lens`;
  const switched = (await git(dir, ['symbolic-ref', '--quiet', 'HEAD'])).exitCode === 0;
  if (switched) await gitOrFail(dir, ['checkout', '--quiet', '--detach'], `could not detach the ${lens} lens of ${id}`);
  await commitLeftovers(dir, `the ${lens} lens worktree of ${id}`, author);
  const head = await commitOf(dir, 'HEAD');
  const branch = itemBranch(id);
  if (!head || head === baseline) return;
  if ((await git(root, ['merge-base', '--is-ancestor', head, `refs/heads/${branch}`])).exitCode === 0) return;
  const onBaseline = (await git(root, ['merge-base', '--is-ancestor', baseline, head])).exitCode === 0;
  if (!switched && onBaseline && (await pickOntoBranch(root, id, baseline, head, author))) {
    ctx.warn(`${who} changed code; its commits were added to ${branch} after the commit it reviewed (so never merged)`);
    return;
  }
  const kept = `refs/tend/kept/${id}-${lens}-${Date.now()}`;
  await gitOrFail(root, ['update-ref', kept, head], `could not keep the work of the ${lens} lens of ${id}`);
  const why = switched
    ? 'it switched its worktree to a branch'
    : onBaseline
      ? `it does not apply to ${branch}`
      : 'it moved its worktree off the commit it reviewed';
  ctx.warn(`${who} changed code, and ${why}: its work is kept as ${kept}`);
}

/**
 * Cherry-pick a lens's commits after its baseline (`from`) onto the item's branch, in the item's
 * worktree; false if that fails. The baseline itself (what the hooks left) is never picked.
 */
async function pickOntoBranch(
  root: string,
  id: string,
  from: string,
  head: string,
  author: string | undefined,
): Promise<boolean> {
  const itemDir = worktreeDir(root, id);
  const branch = itemBranch(id);
  if (!(await isWorktree(root, itemDir)) || (await offBranch(root, itemDir, branch))) return false;
  // --ff: the first lens's commits are taken as they are; a later lens's are copied on top.
  const pick = [
    '-c',
    'core.hooksPath=/dev/null',
    'cherry-pick',
    '--ff',
    '--keep-redundant-commits',
    `${from}..${head}`,
  ];
  if ((await git(itemDir, pick, { env: committerEnv(author) })).exitCode === 0) return true;
  await git(itemDir, ['cherry-pick', '--abort']);
  return false;
}

/** `landed`: the branch commit whose work is now in the base branch, when it is. */
/** The tip of `branch`, to tell later what landed on it while an agent ran elsewhere. */
export async function branchTip(root: string, branch: string): Promise<string | undefined> {
  const result = await git(root, ['rev-parse', '--verify', '--quiet', `refs/heads/${branch}^{commit}`]);
  return result.exitCode === 0 ? result.stdout.trim() : undefined;
}

/** Commits this process put on a base branch by landing an item's work (merge or rebase). */
const landedByTend = new Set<string>();

async function rememberLanded(root: string, base: string, tip: string): Promise<void> {
  const listed = await git(root, ['rev-list', `${base}..${tip}`]);
  for (const commit of listed.stdout.split('\n')) if (commit) landedByTend.add(commit);
}

/**
 * Commits on `branch` since `since` that tend did not make (no Tend-Outcome trailer, not landed
 * by tend from an item's branch), as "<short sha> <subject>": an agent in a worktree must commit
 * on its own branch, and one that commits in the main checkout instead lands its work unreviewed.
 */
export async function commitsNotByTend(root: string, since: string, branch: string): Promise<string[]> {
  const format = '%H %h %s%x1f%(trailers:key=Tend-Outcome,valueonly,separator=)%x1e';
  const result = await git(root, ['log', '--first-parent', `--format=${format}`, `${since}..refs/heads/${branch}`]);
  if (result.exitCode !== 0) return [];
  return result.stdout
    .split('\x1e')
    .map((entry) => entry.trim().split('\x1f'))
    .filter(([commit, outcome]) => commit && !outcome?.trim() && !landedByTend.has(commit.split(' ')[0] ?? ''))
    .map(([commit]) => commit?.split(' ').slice(1).join(' ') ?? '');
}

export type MergeResult = { ok: true; note: string; landed?: string } | { ok: false; reason: string };
type Built = { ok: true; commit: string } | { ok: false; reason: string };

/**
 * Bring the item's work into the base branch as `merge` says: the commit its last review saw
 * (or the branch, if no phase reviewed it), never what an agent added after. `none`: leave it
 * for a pull request. `ff`: that commit rebased onto the base, in a scratch worktree. `merge`: a
 * merge commit built with `git merge-tree`, without any checkout. Either way the user's checkout
 * is only fast-forwarded, which git does around their staged and unstaged changes (or refuses,
 * if they touch the same files); a conflict leaves everything as it was and says why.
 */
export async function mergeBranch(
  root: string,
  id: string,
  mode: Settings['merge'],
  baseBranch: string,
  author?: string,
): Promise<MergeResult> {
  const branch = itemBranch(id);
  if (!(await branchExists(root, branch))) return { ok: true, note: 'no branch' };
  if (mode === 'none' || mode === 'pr') return { ok: true, note: `branch ${branch} kept for review` };
  return withGitLock(() => mergeLocked(root, id, mode, baseBranch, author));
}

/** The commit `ref` names, or '' when there is none. */
async function commitOf(root: string, ref: string): Promise<string> {
  return (await git(root, ['rev-parse', '--verify', '--quiet', `${ref}^{commit}`])).stdout.trim();
}

/** mergeBranch, once no other git command of this process runs. */
async function mergeLocked(
  root: string,
  id: string,
  mode: 'ff' | 'merge',
  baseBranch: string,
  author: string | undefined,
): Promise<MergeResult> {
  const branch = itemBranch(id);
  const current = (await currentBranchFast(root)) ?? '';
  if (current !== baseBranch) {
    const on = current || 'a detached HEAD';
    return { ok: false, reason: `the checkout is on ${on}, not ${baseBranch}; merge ${branch} yourself` };
  }
  const dir = worktreeDir(root, id);
  const off = (await isWorktree(root, dir)) ? await offBranch(root, dir, branch) : undefined;
  if (off) return { ok: false, reason: off };
  // Commit ids, resolved once: a commit landing on the base meanwhile makes the fast-forward
  // refuse, rather than be dropped from a merge made against the older base.
  const base = await commitOf(root, `refs/heads/${baseBranch}`);
  const reviewed = await commitOf(root, reviewedRef(id));
  const head = await commitOf(root, `refs/heads/${branch}`);
  if (reviewed && (await git(root, ['merge-base', '--is-ancestor', reviewed, head])).exitCode !== 0) {
    const lost = `the reviewed commit ${reviewed.slice(0, 12)} is not on ${branch} (the branch was reset or replaced)`;
    return { ok: false, reason: `${lost}; review it again (\`tend retry\`) or merge by hand` };
  }
  const tip = reviewed || head;
  if ((await git(root, ['merge-base', '--is-ancestor', tip, base])).exitCode === 0) {
    return { ok: true, note: `${branch} has nothing ${baseBranch} lacks`, landed: tip };
  }
  const built =
    mode === 'ff'
      ? await rebased(root, id, tip, base, branch, baseBranch, author)
      : await mergeCommit(root, tip, base, branch, baseBranch, author);
  if (!built.ok) return built;
  // No autostash (it would write conflict markers into the user's files) and no hooks.
  const noHooks = ['-c', 'core.hooksPath=/dev/null', '-c', 'merge.autoStash=false'];
  const ff = await git(root, [...noHooks, 'merge', '--quiet', '--ff-only', built.commit]);
  if (ff.exitCode !== 0) {
    const why = describeGitError(ff.stderr);
    return { ok: false, reason: `could not fast-forward ${baseBranch}: ${why}; ${branch} is kept` };
  }
  await rememberLanded(root, base, built.commit);
  const note = mode === 'ff' ? `fast-forwarded ${baseBranch} to ${branch}` : `merged ${branch} into ${baseBranch}`;
  return { ok: true, note, landed: tip };
}

/** `ff`: `tip` rebased onto `base` aside (rewrite.ts); the item's branch and worktree are left as they are. */
async function rebased(
  root: string,
  id: string,
  tip: string,
  base: string,
  branch: string,
  baseBranch: string,
  author: string | undefined,
): Promise<Built> {
  if ((await git(root, ['merge-base', '--is-ancestor', base, tip])).exitCode === 0) return { ok: true, commit: tip };
  const rebase = await rebaseAside(root, `rebase-${id}`, tip, [base], committerEnv(author));
  if (rebase.ok) return rebase;
  const why = describeGitError(rebase.why);
  return {
    ok: false,
    reason: `${branch} does not rebase cleanly onto ${baseBranch}: ${why}; the branch is kept as it was`,
  };
}

/** `merge`: a merge commit of `tip` into `base` (first parent the base), made without a checkout. */
async function mergeCommit(
  root: string,
  tip: string,
  base: string,
  branch: string,
  baseBranch: string,
  author: string | undefined,
): Promise<Built> {
  const merged = await git(root, ['merge-tree', '--write-tree', '--name-only', base, tip]);
  if (merged.exitCode !== 0) {
    const conflict = merged.stdout.split('\n').find((l) => l.startsWith('CONFLICT'));
    const why = describeGitError(merged.stderr || merged.stdout);
    const reason = conflict
      ? `merging ${branch} into ${baseBranch} conflicts: ${conflict}; both sides are kept, resolve it by hand`
      : `git could not merge ${branch} into ${baseBranch}: ${why}; the branch is kept`;
    return { ok: false, reason };
  }
  const tree = merged.stdout.split('\n')[0]?.trim() ?? '';
  const commit = await git(root, ['commit-tree', tree, '-p', base, '-p', tip, '-m', `tend: merge ${branch}`], {
    env: authorEnv(author),
  });
  if (commit.exitCode !== 0)
    return { ok: false, reason: `could not make the merge commit: ${describeGitError(commit.stderr)}` };
  return { ok: true, commit: commit.stdout.trim() };
}

/** git's error, with the file list that follows "...would be overwritten by merge:" kept. */
function describeGitError(text: string): string {
  const lines = text
    .trim()
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !/^(hint|Aborting)/.test(l));
  const first = lines.findIndex((l) => /^(error|fatal|CONFLICT)/.test(l));
  return lines.slice(Math.max(0, first), Math.max(0, first) + 4).join(' ') || 'unknown error';
}

function firstLine(text: string): string {
  return (
    text
      .trim()
      .split('\n')
      .find((l) => l.trim() !== '') ?? 'unknown error'
  );
}

/**
 * An item leaving for done/ or blocked/ gives up its worktree; done first merges its branch as
 * `merge` says, and a merge that fails blocks the item instead, with the branch intact.
 */
export async function settleWorkspace(
  root: string,
  item: Item,
  d: Decision,
  settings: Settings,
  baseBranch: string,
  signal: AbortSignal,
  warn?: (message: string) => void,
  upstream?: { ref: string; remote: string },
): Promise<Decision> {
  const branch = itemBranch(item.id);
  // d.to is undefined for a change made by hand, e.g. a folder moved into done/: no merge then.
  const to = d.to ?? item.location;
  // Only its own branch (recorded when it claimed a worktree phase), never an earlier item's.
  if ((to !== DONE && to !== BLOCKED) || item.fields.branch !== branch) return d;
  // What lands is the work as the remote has it, when another clone built it (or built more).
  const behind = d.to === DONE && upstream ? await caughtUp(root, item.id, upstream) : undefined;
  if (!(await branchExists(root, branch))) return behind ? decideMergeFailed(item, d, behind) : d;
  let settled: Decision = { ...d, changes: { ...d.changes, branch } };
  let landed: string | undefined;
  if (behind) settled = decideMergeFailed(item, settled, behind);
  else if (d.to === DONE) {
    const merged = await mergeBranch(root, item.id, settings.merge, baseBranch, settings.git.author);
    if (merged.ok) landed = merged.landed;
    else {
      settled = decideMergeFailed(item, settled, merged.reason);
    }
  }
  // The reviewed commit is kept for a retry out of blocked/, until the work has landed.
  if (settled.to === DONE) await forgetReviewed(root, item.id);
  try {
    await removeWorktree(root, item.id, settings, itemLogDir(root, item.id), signal, { warn });
  } catch (err) {
    // The transition goes ahead (a merge may already have landed); the worktree stays, nothing lost.
    const kept = `the worktree ${path.relative(root, worktreeDir(root, item.id))} was kept`;
    const why = `${kept}: ${err instanceof Error ? err.message : String(err)}`;
    return { ...settled, changes: { ...settled.changes, warning: why } };
  }
  if (settled.to === DONE && settings.merge === 'pr') {
    // Loaded here: every command that commits reaches this module, and only merge: pr runs gh.
    const { withPullRequest } = await import('./pull-request.js');
    return withPullRequest({ root, item, baseBranch, remote: settings.git.remote, signal }, settled, warn);
  }
  if (settled.to !== DONE || landed === undefined || settings.git.keep_branches) return settled;
  return dropLandedBranch(root, item.id, landed, settled);
}

/** catchUpBranch for a merge: why the branch cannot be merged, or undefined. */
async function caughtUp(root: string, id: string, upstream: { ref: string; remote: string }) {
  try {
    await catchUpBranch(root, id, upstream.ref, upstream.remote);
    return undefined;
  } catch (err) {
    if (err instanceof WorkspaceError) return err.message;
    throw err;
  }
}

/**
 * Delete the branch of work that has landed, so tend/<id> branches do not pile up. Only while it
 * still points at the commit that landed: commits after it (what the review left uncommitted,
 * or added after it started) were not reviewed and are kept on the branch. A deletion that
 * fails is a warning; the item is done either way.
 */
async function dropLandedBranch(root: string, id: string, landed: string, settled: Decision): Promise<Decision> {
  const branch = itemBranch(id);
  const head = (await git(root, ['rev-parse', '--verify', '--quiet', `refs/heads/${branch}^{commit}`])).stdout.trim();
  if (head !== landed) {
    const why = `${branch} was kept: it holds commits made after the review, which did not land`;
    return { ...settled, changes: { ...settled.changes, warning: why } };
  }
  const deleted = await withGitLock(() => git(root, ['update-ref', '-d', `refs/heads/${branch}`, landed]));
  if (deleted.exitCode !== 0) {
    const why =
      `${branch} has landed but could not be deleted: ${firstLine(deleted.stderr)}; ` +
      `delete it with \`git branch -D ${branch}\``;
    return { ...settled, changes: { ...settled.changes, warning: why } };
  }
  return { ...settled, changes: { ...settled.changes, branch: undefined } };
}
