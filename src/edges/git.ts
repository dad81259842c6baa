// git through child_process rather than simple-git, which waits 50 ms after every command that
// prints nothing (measured: 71 ms against 19 ms for `git update-ref`; see the README), and a
// transition runs several of them.
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { TendError } from '../core/problem.js';
import {
  cleanMessage,
  filesUnder,
  folderAt,
  foldersAbove,
  parseTree,
  splitBatch,
  treesOf,
  type Folder,
  type Leaf,
  type TreeToWrite,
} from './tree-objects.js';

export interface GitResult {
  stdout: string;
  stderr: string;
  exitCode: number;
  /** stdout as git wrote it, for output that is not text (`git cat-file --batch`). */
  bytes?: Buffer;
  /** The index lock file that stayed held through every retry, when that is why git failed. */
  lockedIndex?: string;
}

const INDEX_LOCKED = /Unable to create '(.*index\.lock)': File exists/;

/**
 * What tend says when git's index stays locked: git's own text names no way out. One sentence
 * with its fix, since a run reports an item's error by its message alone.
 */
export function indexLockedError(lockFile: string): TendError {
  return new TendError(
    `git's index is locked (${lockFile}): another git is running, or a crashed one left it; ` +
      `if no git process is running, delete ${lockFile}`,
  );
}

/** The lock file named in git's "index.lock: File exists" error, or undefined for any other error. */
function lockedIndex(cwd: string, stderr: string): string | undefined {
  const file = INDEX_LOCKED.exec(stderr)?.[1];
  if (file === undefined) return undefined;
  const rel = path.relative(cwd, file);
  return rel.startsWith('..') || path.isAbsolute(rel) ? file : rel;
}

/** How long a held index lock is waited for: a person's `git mv` of a large tree, `git gc`, an IDE. */
const LOCK_WAITS_MS = [25, 50, 100, 200, 400, 400, 400, 400, 500, 500, 500, 500];

/**
 * Run git. A command that finds the index locked (the user's own `git status` in another
 * terminal holds it for a moment) is retried for about four seconds; after that its stderr says
 * what is wrong and how to get out, since git's own text does not.
 */
export async function git(
  cwd: string,
  args: string[],
  options: { env?: Record<string, string>; input?: string } = {},
): Promise<GitResult> {
  for (let attempt = 0; ; attempt++) {
    const result = await gitOnce(cwd, args, options);
    const lock = result.exitCode === 0 ? undefined : lockedIndex(cwd, result.stderr);
    if (lock === undefined) return result;
    const wait = LOCK_WAITS_MS[attempt];
    if (wait === undefined) {
      return { ...result, stderr: indexLockedError(lock).message, lockedIndex: lock };
    }
    await new Promise((resolve) => setTimeout(resolve, wait));
  }
}

/**
 * One git process, spawned with node:child_process: git runs on every command and every
 * transition, and execa would add 210-250 ms of start-up to import and 4-7 ms per git command
 * (README, "Libraries").
 */
function gitOnce(
  cwd: string,
  args: string[],
  options: { env?: Record<string, string>; input?: string },
): Promise<GitResult> {
  return new Promise((resolve, reject) => {
    const child = spawn('git', args, {
      cwd,
      env: { ...process.env, GIT_TERMINAL_PROMPT: '0', ...options.env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.on('data', (c: Buffer) => err.push(c));
    child.on('error', (cause) =>
      reject(
        new TendError(`could not run git: ${cause.message}`, 'install git and make sure it is on PATH', { cause }),
      ),
    );
    child.on('close', (code, signal) => {
      const text = (chunks: Buffer[]) =>
        Buffer.concat(chunks)
          .toString('utf8')
          .replace(/\r?\n$/, '');
      resolve({
        bytes: Buffer.concat(out),
        stdout: text(out),
        stderr: text(err) || (signal ? `git was stopped by ${signal}` : ''),
        exitCode: code ?? 1,
      });
    });
    child.stdin.on('error', () => undefined); // git may exit without reading its input
    child.stdin.end(options.input ?? '');
  });
}

/** Run git; its stdout, or a TendError saying why it failed (a locked index named as such). */
export async function gitOk(
  cwd: string,
  args: string[],
  options: { env?: Record<string, string>; input?: string } = {},
): Promise<string> {
  const result = await git(cwd, args, options);
  if (result.lockedIndex !== undefined) throw indexLockedError(result.lockedIndex);
  if (result.exitCode !== 0) {
    throw new TendError(`git ${args[0]} failed: ${result.stderr.trim() || `exit code ${result.exitCode}`}`);
  }
  return result.stdout;
}

/** Git directories by checkout root, each asked of git once. */
const gitDirs = new Map<string, { dir: string; common: string }>();

/** The top of the work tree containing `cwd`, or undefined outside any repository. */
export async function findRepoRoot(cwd: string): Promise<string | undefined> {
  // The git directories come with the root, so the first look at them starts no git process.
  const result = await git(cwd, ['rev-parse', '--show-toplevel', '--git-dir', '--git-common-dir']);
  if (result.exitCode !== 0) return undefined;
  const [root = '', dir = '', common = ''] = result.stdout.split('\n').map((line) => line.trim());
  if (!root) return undefined;
  if (dir && common) gitDirs.set(root, { dir: path.resolve(cwd, dir), common: path.resolve(cwd, common) });
  return root;
}

/** The checkout's git directory, absolute (`.git`, or `.git/worktrees/<name>` in a worktree); undefined if none. */
export async function absoluteGitDir(root: string): Promise<string | undefined> {
  return gitDirsOf(root).then(
    (dirs) => dirs.dir,
    () => undefined,
  );
}

export async function initRepo(dir: string): Promise<void> {
  await gitOk(dir, ['init', '--quiet']);
}

export async function headCommit(root: string): Promise<string | undefined> {
  const result = await git(root, ['rev-parse', '--quiet', '--verify', 'HEAD^{commit}']);
  return result.exitCode === 0 ? result.stdout.trim() : undefined;
}

/** "Name <email>" of whoever git would record, or undefined when git has no identity. */
export async function committerIdentity(root: string, env: Record<string, string> = {}): Promise<string | undefined> {
  const result = await git(root, ['var', 'GIT_COMMITTER_IDENT'], { env });
  return result.exitCode === 0 ? result.stdout.replace(/\s+\d+ [+-]\d{4}$/, '') : undefined;
}

const IDENTITY_FIX =
  'git config --global user.name "Your Name" && git config --global user.email "you@example.com", ' +
  'or set git.author in ORCHESTRATOR.md';
const NO_IDENTITY = 'git does not know who is committing (no user.name or user.email)';

/** An operation a person started and has not finished, during which tend must not commit. */
const IN_PROGRESS: { file: string; what: string; fix: string }[] = [
  {
    file: 'MERGE_HEAD',
    what: 'a merge',
    fix: 'finish it (`git merge --continue`) or abort it (`git merge --abort`)',
  },
  {
    file: 'rebase-merge',
    what: 'a rebase',
    fix: 'finish it (`git rebase --continue`) or abort it (`git rebase --abort`)',
  },
  {
    file: 'rebase-apply',
    what: 'a rebase or `git am`',
    fix:
      'finish it (`git rebase --continue` or `git am --continue`) ' +
      'or abort it (`git rebase --abort` / `git am --abort`)',
  },
  {
    file: 'CHERRY_PICK_HEAD',
    what: 'a cherry-pick',
    fix: 'finish it (`git cherry-pick --continue`) or abort it (`git cherry-pick --abort`)',
  },
  {
    file: 'REVERT_HEAD',
    what: 'a revert',
    fix: 'finish it (`git revert --continue`) or abort it (`git revert --abort`)',
  },
];

/** Refuse when git has no identity to commit with (`cwd` may be outside any repository). */
export async function checkIdentity(cwd: string, author?: string): Promise<void> {
  const env = authorEnv(author);
  // Side by side: git var takes one variable a call, and each call is a process start.
  const asked = ['GIT_AUTHOR_IDENT', 'GIT_COMMITTER_IDENT'].map((who) => git(cwd, ['var', who], { env }));
  if ((await Promise.all(asked)).some((result) => result.exitCode !== 0))
    throw new TendError(NO_IDENTITY, IDENTITY_FIX);
}

/**
 * Why tend cannot commit in this checkout right now, checked before anything is written: no git
 * identity, a merge (rebase, cherry-pick, revert) in progress, or an index locked for longer than
 * tend waits. A commit during a person's merge would end it, or fail and leave tend's files behind.
 */
export async function checkCanCommit(root: string, author?: string, options = { waitForIndex: true }): Promise<void> {
  // The git directory as found with the root (no process): `.git`, or `.git/worktrees/<name>`.
  const [gitDir] = await Promise.all([gitDirsOf(root).then((dirs) => dirs.dir), checkIdentity(root, author)]);
  for (const op of IN_PROGRESS) {
    if (existsSync(path.join(gitDir, op.file))) {
      const why = `${op.what} is in progress in this checkout, and tend will not commit in the middle of it`;
      throw new TendError(why, `${op.fix}, then run tend again`);
    }
  }
  if (!options.waitForIndex) return;
  // Waits while the lock is held, as every git command does; says how to get out if it stays.
  // The index is the checkout's own, so its lock is in the checkout's git directory (what `git
  // rev-parse --git-path index.lock` says, even with GIT_INDEX_FILE set).
  const lockFile = path.join(gitDir, 'index.lock');
  for (const wait of [...LOCK_WAITS_MS, undefined]) {
    if (!existsSync(lockFile)) return;
    if (wait === undefined) throw indexLockedError(path.relative(root, lockFile));
    await new Promise((resolve) => setTimeout(resolve, wait));
  }
}

export function authorEnv(author: string | undefined): Record<string, string> {
  const match = author ? /^(.+?) <(.+)>$/.exec(author) : null;
  if (!match) return {};
  const [, name = '', email = ''] = match;
  return { GIT_AUTHOR_NAME: name, GIT_AUTHOR_EMAIL: email, GIT_COMMITTER_NAME: name, GIT_COMMITTER_EMAIL: email };
}

let gitQueue: Promise<unknown> = Promise.resolve();

/**
 * Run git operations that move HEAD or the index (commits, merges, worktree changes) one at a
 * time within this process. Not reentrant: `fn` must not call withGitLock itself.
 */
export function withGitLock<T>(fn: () => Promise<T>): Promise<T> {
  const run = gitQueue.then(fn);
  gitQueue = run.catch(() => undefined);
  return run;
}

export interface CommitOptions {
  author?: string;
  /** Commit only while this branch is checked out (an agent may have switched it). */
  branch?: string;
}

/** HEAD moved to another branch, or the branch was rewritten, under tend: nothing more can be committed safely. */
export class BranchMoved extends TendError {}

/** The checkout's git directory and the common one holding refs (they differ in a linked worktree). */
async function gitDirsOf(root: string): Promise<{ dir: string; common: string }> {
  let dirs = gitDirs.get(root);
  if (!dirs) {
    const [dir = '', common = ''] = (await gitOk(root, ['rev-parse', '--git-dir', '--git-common-dir'])).split('\n');
    dirs = { dir: path.resolve(root, dir.trim()), common: path.resolve(root, common.trim()) };
    gitDirs.set(root, dirs);
  }
  return dirs;
}

/** The branch HEAD names, read from the HEAD file (no process), or undefined when detached. */
export async function currentBranchFast(root: string): Promise<string | undefined> {
  const head = (await readFile(path.join((await gitDirsOf(root)).dir, 'HEAD'), 'utf8')).trim();
  // A reftable repository keeps `ref: refs/heads/.invalid` in the file; only git knows the branch.
  if (head === 'ref: refs/heads/.invalid') {
    const result = await git(root, ['symbolic-ref', '--quiet', '--short', 'HEAD']);
    return (result.exitCode === 0 && result.stdout.trim()) || undefined;
  }
  return head.startsWith('ref: refs/heads/') ? head.slice('ref: refs/heads/'.length) : undefined;
}

/**
 * The commit `branch` points at, read from its loose ref file (no process); undefined when the
 * ref is packed or cannot be read, and the caller asks git instead.
 */
async function branchTipFast(root: string, branch: string): Promise<string | undefined> {
  const file = path.join((await gitDirsOf(root)).common, 'refs', 'heads', ...branch.split('/'));
  const text = await readFile(file, 'utf8').catch(() => '');
  return /^[0-9a-f]{40,64}\n?$/.test(text) ? text.trim() : undefined;
}

/**
 * Commits tend makes skip git's automatic maintenance: `git maintenance run --auto` after every
 * commit is one more process per transition (measured 5-7 ms of a 12-20 ms commit). The run
 * does the same check itself every MAINTENANCE_EVERY commits and when it ends.
 */
const NO_AUTO_MAINTENANCE = ['-c', 'maintenance.auto=false'];
/** The user's hooks never run on tend's commits (`git commit --no-verify` skips only some of them). */
const NO_HOOKS = ['-c', 'core.hooksPath=/dev/null'];
const MAINTENANCE_EVERY = 200;
let commitsSinceMaintenance = 0;

/** git's own housekeeping (packing loose objects when there are many), as a commit would run it. */
export async function runAutoMaintenance(root: string): Promise<void> {
  commitsSinceMaintenance = 0;
  await withGitLock(() => git(root, ['maintenance', 'run', '--auto', '--quiet']));
}

/**
 * Commit the working-tree state of `paths` (and nothing else) on top of HEAD, with
 * `git commit --only`: the user's staged and unstaged changes elsewhere are never committed,
 * unstaged or reset. The user's hooks do not run on tend's commits. Returns false when the
 * paths did not change. Commits from one process are serialized so HEAD moves one transition
 * at a time. With `options.branch`, throws BranchMoved when HEAD is on another branch or the
 * branch was rewritten under tend (checkNotRewritten).
 */
export function commitPaths(
  root: string,
  paths: string[],
  message: string,
  options: CommitOptions = {},
): Promise<boolean> {
  return withGitLock(() => commitNow(root, paths, message, options));
}

const NOTHING_TO_COMMIT = /nothing (added )?to commit|no changes added to commit/;

/** A path from a file name, for git: `*`, `?` and `[` in it are characters, not patterns. */
export function literal(p: string): string {
  return p.startsWith(':(') ? p : `:(literal)${p}`;
}

/**
 * HEAD is still on `branch` and the branch was not rewritten under tend; BranchMoved otherwise.
 * Checked before a transition touches anything and again at its commit.
 */
async function checkOnBranch(root: string, branch: string): Promise<void> {
  const now = await currentBranchFast(root);
  if (now !== branch) {
    throw new BranchMoved(
      `the checkout is now on ${now ?? 'a detached HEAD'}, not ${branch} where tend commits ` +
        '(an agent or a person switched it)',
      `switch back with \`git checkout ${branch}\`, then run tend again`,
    );
  }
  await checkNotRewritten(root, branch);
}

async function commitNow(root: string, paths: string[], message: string, options: CommitOptions): Promise<boolean> {
  if (options.branch) await checkOnBranch(root, options.branch);
  const committed = await commitChecked(root, paths, message, options);
  if (committed && options.branch) {
    const tip = (await branchTipFast(root, options.branch)) ?? (await gitOk(root, ['rev-parse', 'HEAD'])).trim();
    lastCommits.set(`${root}\0${options.branch}`, tip);
  }
  if (committed && ++commitsSinceMaintenance >= MAINTENANCE_EVERY) {
    commitsSinceMaintenance = 0;
    await git(root, ['maintenance', 'run', '--auto', '--quiet']);
  }
  return committed;
}

/** The last commit this process made on each branch it commits on, per checkout (`root\0branch`). */
const lastCommits = new Map<string, string>();

/**
 * The branch was rewritten by tend itself (a sync rebased its commits onto the remote's): its new
 * tip is where tend's commits are now, so the check against a rewrite under tend starts from it.
 */
export async function adoptBranchTip(root: string, branch: string): Promise<void> {
  const tip = (await branchTipFast(root, branch)) ?? (await gitOk(root, ['rev-parse', `refs/heads/${branch}`])).trim();
  lastCommits.set(`${root}\0${branch}`, tip);
}

/**
 * A branch rewritten under tend (a `git reset --hard`, a rebase or an amend by an agent or a
 * person) no longer holds tend's last commit: committing on top would bury the lost transitions
 * without a word, and tend would run finished phases again. Nothing more is committed.
 */
export async function checkNotRewritten(root: string, branch: string): Promise<void> {
  const last = lastCommits.get(`${root}\0${branch}`);
  const tip = await branchTipFast(root, branch);
  if (!last || tip === last) return;
  const contained = await git(root, ['merge-base', '--is-ancestor', last, tip ?? branch]);
  if (contained.exitCode === 0) return;
  const subject = (await git(root, ['log', '-1', '--format=%s', last])).stdout.trim();
  const short = last.slice(0, 12);
  throw new BranchMoved(
    `${branch} was rewritten under tend: it no longer contains tend's last commit ${short} ` +
      `(${subject || 'unknown'}); a \`git reset\`, rebase or amend (by an agent or a person) dropped it`,
    `nothing was committed on top; see \`git reflog ${branch}\` and bring the lost commits back ` +
      `(e.g. \`git reset --hard ${short}\` if nothing since matters), then run tend again`,
  );
}

/** Which of `paths` HEAD holds (a file, or a folder with files), in one git call. */
async function inHead(root: string, paths: string[]): Promise<string[]> {
  if ((await git(root, ['rev-parse', '--verify', '--quiet', 'HEAD'])).exitCode !== 0) return []; // no commit yet
  const listed = await gitOk(root, ['ls-tree', '-z', '--name-only', 'HEAD', '--', ...paths.map(literal)]);
  const held = new Set(listed.split('\0'));
  return paths.filter((p) => held.has(p));
}

async function commitChecked(root: string, paths: string[], message: string, options: CommitOptions): Promise<boolean> {
  // Another git committing between tend's look at HEAD and its move costs one more try; one that
  // keeps committing (a loop, another busy clone's tend) is waited for by git commit, which holds
  // the index lock throughout as every git commit does.
  for (let attempt = 0; attempt < 4; attempt++) {
    const made = await commitTouched(root, paths, message, options);
    if (made !== 'moved') return made ?? commitWithGit(root, paths, message, options);
    // A random pause, so that two committers in step do not meet again at once.
    await new Promise((resolve) => setTimeout(resolve, Math.random() * 50 * (attempt + 1)));
  }
  return commitWithGit(root, paths, message, options);
}

/**
 * The paths a commit touches, outermost only (a folder stands for what is below it); undefined
 * for what commitTouched leaves to git: a pattern, a path out of the checkout, a line break.
 */
function touchedPaths(paths: string[]): string[] | undefined {
  const clean = paths.map((p) => p.replace(/\/+$/, ''));
  const odd = (p: string) => p.startsWith(':(') || p.includes('\n') || p.startsWith('/');
  if (clean.some((p) => odd(p) || p.split('/').some((part) => ['', '.', '..'].includes(part)))) return undefined;
  const sorted = [...new Set(clean)].sort();
  return sorted.filter((p) => !sorted.some((q) => p.startsWith(`${q}/`)));
}

/** HEAD's commit (from the ref files when they have it: no process), undefined on an unborn branch. */
async function headNow(root: string): Promise<string | undefined> {
  const branch = await currentBranchFast(root).catch(() => undefined);
  return (branch && (await branchTipFast(root, branch))) || headCommit(root);
}

/**
 * Commit the paths as they are on disk on top of HEAD, touching nothing else: their blobs are
 * hashed, the trees above them read from HEAD, changed and written, the commit made with
 * `commit-tree` and HEAD moved with a compare-and-swap. `git commit` refreshes and rewrites the
 * whole index and builds a second one from all of HEAD, which grows with backlog/done/. The index
 * is brought up to date for these paths alone, first, as `git add` did (a locked index stops the
 * commit before it is made). False when nothing changed; 'moved' when HEAD moved meanwhile;
 * undefined when git commit must do it (a symlink, an executable, a pattern, an empty tree).
 */
async function commitTouched(
  root: string,
  paths: string[],
  message: string,
  options: CommitOptions,
): Promise<boolean | 'moved' | undefined> {
  const touched = touchedPaths(paths);
  if (!touched) return undefined;
  if (existsSync(path.join((await gitDirsOf(root)).dir, 'MERGE_HEAD'))) throw mergeInProgress();
  const found = await Promise.all(touched.map((p) => filesUnder(root, p)));
  const files = found.every((f) => f !== undefined) ? found.flat() : undefined;
  // `hash-object --stdin-paths` reads one path a line, and unquotes one that starts with '"'.
  if (!files || files.some((f) => f.includes('\n') || f.startsWith('"'))) return undefined;
  const head = await headNow(root);
  const [shas, before, listings, sign] = await Promise.all([
    hashFiles(root, files),
    filesInHead(root, head, touched),
    readFolders(root, head, touched),
    signsCommits(root),
  ]);
  if (!listings) return undefined;
  const written = new Set(files);
  const gone = [...before.filter((f) => !written.has(f)), ...touched.filter((p) => !existsSync(path.join(root, p)))];
  const tree = buildTree(touched, files, shas, listings, head);
  // The index and the commit side by side; HEAD moves only once both are done.
  const [made] = await Promise.all([
    tree && tree.sha !== listings.get('')?.sha
      ? makeCommit(root, tree, head, message, { ...options, sign })
      : undefined,
    updateIndex(root, [...files, ...gone]),
  ]);
  if (!tree) return undefined;
  if (!made) return false;
  return moveHead(root, made, head, message);
}

/**
 * HEAD (and the branch it names) moved from `head` to `made` as `git commit` moves it, with its
 * reflog entry and no reference-transaction hook; 'moved' when HEAD is no longer at `head`. A
 * ref lock held by another git (its commit, a fetch) is waited for, as the index lock is.
 */
async function moveHead(root: string, made: string, head: string | undefined, message: string) {
  const reflog = `commit${head ? '' : ' (initial)'}: ${message.split('\n')[0] ?? ''}`;
  const args = [...NO_HOOKS, 'update-ref', '-m', reflog, 'HEAD', made, head ?? ''];
  for (const wait of [...LOCK_WAITS_MS, undefined]) {
    const moved = await git(root, args);
    if (moved.exitCode === 0) return true;
    if (/but expected|unable to resolve reference|reference already exists/.test(moved.stderr)) return 'moved';
    const lock = /Unable to create '([^']*\.lock)': File exists/.exec(moved.stderr)?.[1];
    if (lock === undefined || wait === undefined) {
      const fix = lock && `if no git process is running, delete ${lock}; nothing was lost, run tend again`;
      throw new TendError(`git update-ref failed: ${moved.stderr.trim() || `exit code ${moved.exitCode}`}`, fix);
    }
    await new Promise((resolve) => setTimeout(resolve, wait));
  }
  return 'moved';
}

/** Whether the user has git sign commits (commit.gpgsign); `git commit-tree` only signs when told. */
async function signsCommits(root: string): Promise<boolean> {
  return (await git(root, ['config', '--bool', '--get', 'commit.gpgsign'])).stdout.trim() === 'true';
}

/** Write the trees and a commit of them on `head` (none on an unborn branch); the commit's id. */
async function makeCommit(
  root: string,
  tree: { sha: string; trees: TreeToWrite[] },
  head: string | undefined,
  message: string,
  options: CommitOptions & { sign: boolean },
): Promise<string> {
  await writeTrees(root, tree.trees);
  const args = ['commit-tree', tree.sha, ...(head ? ['-p', head] : []), ...(options.sign ? ['-S'] : []), '-F', '-'];
  const made = await git(root, args, { env: authorEnv(options.author), input: cleanMessage(message) });
  if (made.exitCode !== 0) throw commitFailure(made);
  return made.stdout.trim();
}

/** The blob ids of `files`, written to the object store as `git add` writes them (filters applied). */
async function hashFiles(root: string, files: string[]): Promise<string[]> {
  if (files.length === 0) return [];
  const out = await gitOk(root, ['hash-object', '-w', '--stdin-paths'], { input: `${files.join('\n')}\n` });
  return out.split('\n');
}

/** The files HEAD has at or below `touched`. */
async function filesInHead(root: string, head: string | undefined, touched: string[]): Promise<string[]> {
  if (!head) return [];
  const out = await gitOk(root, ['ls-tree', '-r', '-z', '--name-only', head, '--', ...touched.map(literal)]);
  return out.split('\0').filter(Boolean);
}

type Listing = { sha: string; entries: Map<string, Leaf> };

/**
 * The trees HEAD has above `touched`, by path ('' the root), in one `git cat-file --batch`;
 * undefined when one holds a name that is not UTF-8 (git commit records it as it is).
 */
async function readFolders(
  root: string,
  head: string | undefined,
  touched: string[],
): Promise<Map<string, Listing> | undefined> {
  const folders = [...new Set(touched.flatMap(foldersAbove))];
  const listings = new Map<string, Listing>();
  if (!head) return listings;
  const names = folders.map((f) => (f === '' ? `${head}^{tree}` : `${head}:${f}`));
  const result = await git(root, ['cat-file', '--batch'], { input: `${names.join('\n')}\n` });
  if (result.exitCode !== 0 || !result.bytes) throw new TendError(`git cat-file failed: ${result.stderr.trim()}`);
  const hashBytes = head.length / 2;
  const objects = splitBatch(result.bytes, folders.length);
  for (const [i, object] of objects.entries()) {
    const folder = folders[i];
    const entries = object && parseTree(object.tree, hashBytes);
    if (object && !entries) return undefined;
    if (entries && folder !== undefined) listings.set(folder, { sha: object.sha, entries });
  }
  return listings;
}

/** The index holds `paths` as they are on disk now (one gone from disk leaves it), with their stat. */
async function updateIndex(root: string, paths: string[]): Promise<void> {
  if (paths.length === 0) return;
  // No post-index-change hook: `git commit` ran none of the user's hooks for tend either.
  await gitOk(root, [...NO_HOOKS, 'update-index', '--add', '--remove', '--replace', '-z', '--stdin'], {
    input: paths.join('\0'),
  });
}

/** HEAD's tree with `touched` replaced by `files`: the new root's id and the trees to write; undefined if empty. */
function buildTree(
  touched: string[],
  files: string[],
  shas: string[],
  listings: Map<string, Listing>,
  head: string | undefined,
): { sha: string; trees: TreeToWrite[] } | undefined {
  const entries = new Map([...listings].map(([folder, listing]) => [folder, listing.entries]));
  const top: Folder = { entries: new Map(entries.get('') ?? []) };
  const split = (rel: string) => {
    const slash = rel.lastIndexOf('/');
    return { dir: slash < 0 ? '' : rel.slice(0, slash), name: rel.slice(slash + 1) };
  };
  for (const p of touched) folderAt(top, split(p).dir, entries).entries.delete(split(p).name);
  files.forEach((file, i) => {
    const { dir, name } = split(file);
    folderAt(top, dir, entries).entries.set(name, { mode: '100644', sha: shas[i] ?? '' });
  });
  const trees: TreeToWrite[] = [];
  const sha = treesOf(top, (head ?? shas[0] ?? '').length === 64 ? 'sha256' : 'sha1', trees);
  return sha === undefined ? undefined : { sha, trees };
}

/** Write the trees, children first, in one `git mktree`; each must get the id computed for it. */
async function writeTrees(root: string, trees: TreeToWrite[]): Promise<void> {
  const out = await gitOk(root, ['mktree', '-z', '--batch'], { input: trees.map((t) => `${t.input}\0`).join('') });
  const ids = out.split('\n');
  if (trees.some((tree, i) => ids[i] !== tree.sha)) {
    throw new TendError(`git mktree wrote other trees than tend built (${ids.join(', ')})`);
  }
}

/** The commit as `git commit --only` makes it: for paths commitTouched leaves to git (a symlink, a pattern). */
async function commitWithGit(root: string, paths: string[], message: string, options: CommitOptions): Promise<boolean> {
  // A magic pathspec such as `:(glob)backlog/*/<id>/**` is handed to git as it is.
  const present = paths.filter((p) => p.startsWith(':(') || existsSync(path.join(root, p)));
  const gone = paths.filter((p) => !present.includes(p));
  const specs = present.map(literal);
  // --force: a phase folder such as backlog/build/ may match the user's .gitignore (build/).
  if (present.length > 0) await gitOk(root, ['add', '--all', '--force', '--', ...specs]);
  if (gone.length > 0) {
    // Only paths git knew can be committed as deleted; a never-committed file that is gone
    // (an inbox file written by hand, then taken in) has nothing to record.
    await gitOk(root, ['rm', '-r', '--cached', '--ignore-unmatch', '--quiet', '--', ...gone.map(literal)]);
    specs.push(...(await inHead(root, gone)).map(literal));
  }
  if (specs.length === 0) return false;
  const commit = [
    ...NO_AUTO_MAINTENANCE,
    '-c',
    'core.hooksPath=/dev/null',
    'commit',
    '--quiet',
    '--no-verify',
    '--only',
  ];
  let result: GitResult;
  // git commit reads HEAD before it takes the index lock: another commit landing in between
  // fails it with nothing changed, and it is made again on the new HEAD.
  for (let attempt = 0; ; attempt++) {
    result = await git(root, [...commit, '-F', '-', '--', ...specs], {
      env: authorEnv(options.author),
      input: message,
    });
    if (attempt >= 4 || !/cannot lock ref 'HEAD': is at \S+ but expected/.test(result.stderr)) break;
  }
  if (result.exitCode === 0) return true;
  if (NOTHING_TO_COMMIT.test(result.stdout + result.stderr)) return false;
  throw commitFailure(result);
}

/** What a failed commit means to the user, with the way out where git's own text has none. */
function commitFailure(result: GitResult): TendError {
  if (result.lockedIndex !== undefined) return indexLockedError(result.lockedIndex);
  if (/Please tell me who you are|unable to auto-detect email/.test(result.stderr)) {
    return new TendError(NO_IDENTITY, IDENTITY_FIX);
  }
  if (/partial commit during a merge|You have unmerged paths/.test(result.stderr)) return mergeInProgress();
  return new TendError(
    `git commit failed: ${result.stderr.trim() || result.stdout.trim() || `exit code ${result.exitCode}`}`,
  );
}

function mergeInProgress(): TendError {
  return new TendError(
    'the checkout is in the middle of a merge, so tend cannot commit',
    'finish or abort the merge (git merge --continue / --abort); tend goes on after that',
  );
}

/** Whether git would ignore `rel` (e.g. `.tend/`) in this repository. */
export async function isIgnored(root: string, rel: string): Promise<boolean> {
  return (await git(root, ['check-ignore', '--quiet', '--no-index', rel])).exitCode === 0;
}
