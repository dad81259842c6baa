// The git remote clones share the backlog through: fetch, integrate (rebase, or a merge after a
// renamed id), push. git is the distributed engine; there is no server of tend's. What git says
// when it fails is sorted into what tend does about it: an unreachable remote is waited out
// (offline), a refusal (authentication, a protected branch, a hook) is an error said once, and a
// rejected push means another clone moved first.
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { TendError } from '../core/problem.js';
import { BACKLOG_DIR } from '../core/backlog.js';
import { currentBranchFast, git, gitOk } from './git.js';
import { mergeAside, moveCheckout, rebaseAside } from './rewrite.js';
import { STATE_DIR } from './state-dir.js';

/** The remote cannot be reached now (no network, a moved path, a host down): work goes on locally. */
export class RemoteUnreachable extends TendError {}
/** The remote refused us (authentication, permissions, a protected branch, a hook): retrying will not help. */
export class RemoteRefused extends TendError {}
/** Integrating the remote's commits stopped on a conflict; it was aborted, nothing was lost. */
export class SyncConflict extends TendError {}

const REFUSED =
  /Permission denied|Authentication failed|could not read Username|access denied|\b403\b|pre-receive hook declined|protected branch|hook declined|not allowed to push|GH006/i;
const UNREACHABLE =
  /does not appear to be a git repository|Could not read from remote repository|Could not resolve host|Connection refused|Connection timed out|Network is unreachable|unable to access|No such file or directory|Operation timed out/i;
/** Another push updating the same ref at that moment: a race lost, like a non-fast-forward. */
const RACED = /failed to update ref|cannot lock ref|incorrect old value|unable to update local ref/i;
const REJECTED = /\[rejected\]|non-fast-forward|fetch first|stale info|failed to push some refs/i;

/** Sort a failed fetch or push: refused, unreachable, or (for push) rejected because the remote moved. */
function classify(remote: string, what: 'fetch' | 'push', stderr: string): TendError | 'rejected' {
  // The server's own words (`remote: ...`) and git's verdict, not its progress lines.
  const lines = stderr
    .trim()
    .split('\n')
    .map((l) => l.trim());
  const telling = lines.filter((l) => /^(remote:|error:|fatal:|!)|rejected|denied/i.test(l) && l !== 'remote:');
  const text = (telling.length > 0 ? telling : lines).slice(-4).join(' ').replace(/\s+/g, ' ');
  if (what === 'push' && RACED.test(stderr)) return 'rejected';
  if (REFUSED.test(stderr)) {
    return new RemoteRefused(
      `the remote ${remote} refused the ${what}: ${text}`,
      'check your access to it (credentials, a protected branch, a server hook); tend does not retry this',
    );
  }
  if (what === 'push' && REJECTED.test(stderr)) return 'rejected';
  if (UNREACHABLE.test(stderr)) {
    return new RemoteUnreachable(
      `the remote ${remote} cannot be reached: ${text}`,
      'tend keeps working and committing locally, and pushes once the remote is back',
    );
  }
  return new TendError(`git ${what} ${remote} failed: ${text}`);
}

/** `refs/remotes/<remote>/<branch>`, where the remote's branch is fetched to. */
export function trackingRef(remote: string, branch: string): string {
  if (/^[A-Za-z0-9][A-Za-z0-9_-]*$/.test(remote)) return `refs/remotes/${remote}/${branch}`;
  // A path or URL is no ref name (`..`, `:`): its tracking ref is named after its hash.
  const key = createHash('sha1').update(remote).digest('hex').slice(0, 16);
  return `refs/tend/remotes/${key}/${branch}`;
}

/** The fetch refspec that brings the remote's work branches (`tend/<id>`) into their tracking refs. */
export function workBranchesRefspec(remote: string): string {
  return `+refs/heads/tend/*:${trackingRef(remote, 'tend/*')}`;
}

/**
 * Fetch the remote's `branch` into its tracking ref. Returns the commit it is on, or undefined
 * when the remote has no such branch yet (the first push creates it). `workBranches`: the
 * remote's `tend/<id>` come along in the same fetch, and a tracking ref of one the remote no
 * longer has (deleted once its pull request was merged) is pruned.
 */
export async function fetchBranch(
  root: string,
  remote: string,
  branch: string,
  workBranches = false,
): Promise<string | undefined> {
  const ref = trackingRef(remote, branch);
  const refspecs = [`+refs/heads/${branch}:${ref}`, ...(workBranches ? [workBranchesRefspec(remote)] : [])];
  const prune = workBranches ? ['--prune'] : [];
  const result = await git(root, ['fetch', '--quiet', '--no-tags', ...prune, remote, ...refspecs]);
  if (result.exitCode !== 0) {
    if (/couldn't find remote ref/i.test(result.stderr)) return undefined;
    const why = classify(remote, 'fetch', result.stderr);
    throw why === 'rejected' ? new TendError(result.stderr) : why;
  }
  return (await gitOk(root, ['rev-parse', ref])).trim();
}

/** Whether the remote had `branch` when it was last fetched (its tracking ref exists). */
export async function remoteHad(root: string, remote: string, branch: string): Promise<boolean> {
  const ref = trackingRef(remote, branch);
  return (await git(root, ['rev-parse', '--quiet', '--verify', `${ref}^{commit}`])).exitCode === 0;
}

/** Push `refs` (local:remote pairs). 'rejected' when the remote moved since we fetched. */
export async function push(root: string, remote: string, refs: string[]): Promise<'pushed' | 'rejected'> {
  const result = await git(root, ['push', '--quiet', '--porcelain', remote, ...refs]);
  if (result.exitCode === 0) return 'pushed';
  const why = classify(remote, 'push', `${result.stderr}\n${result.stdout}`);
  if (why === 'rejected') return 'rejected';
  throw why;
}

/**
 * Push the local `branch` to the remote's, and on success point its tracking ref at what was
 * pushed: the remote's branch is now exactly that commit, so no fetch is needed to know it.
 */
export async function pushBranch(root: string, remote: string, branch: string): Promise<'pushed' | 'rejected'> {
  const tip = (await gitOk(root, ['rev-parse', '--verify', `refs/heads/${branch}^{commit}`])).trim();
  // The ref, not the commit, is named: git's answer then holds no hash for the patterns below to misread.
  const pushed = await push(root, remote, [`refs/heads/${branch}:refs/heads/${branch}`]);
  if (pushed === 'pushed') await gitOk(root, ['update-ref', trackingRef(remote, branch), tip]);
  return pushed;
}

/** How many commits HEAD has that `upstream` lacks, and the other way round. */
export async function aheadBehind(root: string, upstream: string): Promise<{ ahead: number; behind: number }> {
  const out = await gitOk(root, ['rev-list', '--left-right', '--count', `HEAD...${upstream}`]);
  const [ahead = 0, behind = 0] = out.trim().split(/\s+/).map(Number);
  return { ahead, behind };
}

/** The id a path under backlog/ belongs to: `backlog/<id>.md` or `backlog/<phase>/<id>/...`. */
export function idOfPath(p: string): string | undefined {
  const parts = p.split('/');
  if (parts[0] !== BACKLOG_DIR) return undefined;
  if (parts.length === 2) return parts[1]?.endsWith('.md') ? parts[1].slice(0, -3) : undefined;
  return parts.length >= 4 ? parts[2] : undefined;
}

/** Ids that appeared between `base` and `tip`: added under some path, removed from none. */
async function newIds(root: string, base: string, tip: string): Promise<Map<string, string[]>> {
  const out = await gitOk(root, ['diff', '--no-renames', '--name-status', '-z', base, tip, '--', BACKLOG_DIR]);
  const fields = out.split('\0');
  const added = new Map<string, string[]>();
  const removed = new Set<string>();
  for (let i = 0; i + 1 < fields.length; i += 2) {
    const [status, file] = [fields[i] ?? '', fields[i + 1] ?? ''];
    const id = idOfPath(file);
    if (!id) continue;
    if (status === 'A') added.set(id, [...(added.get(id) ?? []), file]);
    if (status === 'D') removed.add(id);
  }
  for (const id of removed) added.delete(id);
  return added;
}

/** An item both sides added since they parted: where ours is (its inbox file or its folder). */
export interface Collision {
  id: string;
  /** The path to move: `backlog/<id>.md` or `backlog/<phase>/<id>`. */
  path: string;
}

/** What both sides added since they parted: the ids they share, and every id (with its files) ours added. */
export interface Collisions {
  clashes: Collision[];
  ours: Map<string, string[]>;
}

/** Ids the local branch and `upstream` each added since their merge base. */
export async function collisions(root: string, upstream: string): Promise<Collisions> {
  const base = await git(root, ['merge-base', 'HEAD', upstream]);
  if (base.exitCode !== 0) return { clashes: [], ours: new Map() };
  const mb = base.stdout.trim();
  const [ours, theirs] = await Promise.all([newIds(root, mb, 'HEAD'), newIds(root, mb, upstream)]);
  const clashes: Collision[] = [];
  for (const [id, files] of ours) {
    if (!theirs.has(id)) continue;
    const file = files[0] ?? '';
    const parts = file.split('/');
    const where = parts.length === 2 ? file : parts.slice(0, 3).join('/');
    if (existsSync(path.join(root, where))) clashes.push({ id, path: where });
  }
  return { clashes, ours };
}

/**
 * The ids `rev` holds: its inbox files and the folders of every phase, done/ included (one
 * listing of folder names; no file is read).
 */
export async function idsIn(root: string, rev: string): Promise<Set<string>> {
  const top = await git(root, ['ls-tree', '--name-only', rev, '--', `${BACKLOG_DIR}/`]);
  if (top.exitCode !== 0) return new Set();
  const entries = top.stdout.split('\n').filter(Boolean);
  const dirs = entries.filter((e) => !e.endsWith('.md')).map((d) => `${d}/`);
  const inner = dirs.length > 0 ? await git(root, ['ls-tree', '--name-only', rev, '--', ...dirs]) : undefined;
  const ids = new Set<string>();
  for (const e of [...entries, ...(inner?.stdout.split('\n') ?? [])]) {
    const parts = e.split('/');
    if (parts.length === 2 && e.endsWith('.md')) ids.add(parts[1]?.slice(0, -3) ?? '');
    if (parts.length === 3) ids.add(parts[2] ?? '');
  }
  return ids;
}

/**
 * Bring `upstream`'s commits in under ours: a fast-forward when we have none of our own, a
 * rebase of ours onto it, or a merge when `merge` is asked for (after a renamed id, whose add a
 * rebase would replay onto the other clone's). The new commits are made aside and the checkout
 * then moved to them (rewrite.ts): your uncommitted work is never stashed. On a conflict nothing
 * changes and nothing is lost.
 */
export async function integrate(root: string, branch: string, upstream: string, merge: boolean): Promise<void> {
  const { ahead, behind } = await aheadBehind(root, upstream);
  if (behind === 0) return;
  const from = (await gitOk(root, ['rev-parse', `refs/heads/${branch}`])).trim();
  const why = `tend: sync with ${upstream}`;
  let to: string | undefined;
  let stopped = '';
  if (ahead === 0) to = (await gitOk(root, ['rev-parse', upstream])).trim();
  else if (merge) to = await mergeAside(root, from, upstream, why);
  else {
    const rebased = await rebaseAside(root, 'sync', from, [upstream]);
    if (rebased.ok) to = rebased.commit;
    else stopped = rebased.why.split('\n').slice(-2).join(' ');
  }
  if (!to) {
    throw new SyncConflict(
      `bringing in ${upstream} stopped on a conflict, and was undone${stopped ? `: ${stopped}` : ''}`,
      `run \`git pull --rebase\` and resolve it by hand (item files merge key by key; a conflict is in their text)`,
    );
  }
  await moveCheckout(root, branch, from, to, why);
}

/** What the last syncs found, kept in .tend/ for `tend status` and the live view. */
export interface SyncState {
  remote: string;
  /** When the clone first had commits the remote lacked and could not push them (ISO). */
  aheadSince?: string;
  /** Why the last attempt failed, when it did. */
  lastError?: string;
  /** The last time the remote took our commits (ISO). */
  lastPush?: string;
}

function syncStateFile(root: string): string {
  return path.join(root, STATE_DIR, 'sync.json');
}

export async function readSyncState(root: string): Promise<SyncState | undefined> {
  try {
    return JSON.parse(await readFile(syncStateFile(root), 'utf8')) as SyncState;
  } catch {
    return undefined;
  }
}

export async function writeSyncState(root: string, state: SyncState): Promise<void> {
  await mkdir(path.join(root, STATE_DIR), { recursive: true });
  await writeFile(syncStateFile(root), `${JSON.stringify(state, null, 2)}\n`);
}

/** Commits the local branch has that the remote's (as last fetched) lacks; undefined if never fetched. */
export async function aheadOfRemote(root: string, remote: string, branch: string): Promise<number | undefined> {
  const ref = trackingRef(remote, branch);
  const result = await git(root, ['rev-list', '--count', `${ref}..refs/heads/${branch}`]);
  return result.exitCode === 0 ? Number(result.stdout.trim()) : undefined;
}

/** Where the clone stands against its remote, for `tend status`: undefined when it syncs with none. */
export interface SyncStatus {
  remote: string;
  branch: string;
  /** Commits here the remote lacks (as last fetched); undefined when never fetched. */
  ahead?: number;
  aheadSince?: string;
  lastError?: string;
  lastPush?: string;
}

export async function syncStatus(root: string, configured: string | undefined): Promise<SyncStatus | undefined> {
  const state = await readSyncState(root);
  const remote = configured ?? state?.remote;
  const branch = await currentBranchFast(root).catch(() => undefined);
  if (!remote || !branch) return undefined;
  const ahead = await aheadOfRemote(root, remote, branch);
  const mine = state?.remote === remote ? state : undefined;
  return { remote, branch, ahead, aheadSince: mine?.aheadSince, lastError: mine?.lastError, lastPush: mine?.lastPush };
}

/**
 * Take commit `commit` out of `branch`'s history, replaying what came after it (a claim another
 * clone won: no commit of ours may survive for it). Nothing else changes.
 */
export async function dropCommit(root: string, branch: string, commit: string): Promise<void> {
  // Only a commit the branch still holds: one a sync rewrote since is not ours to take out.
  if (!(await contains(root, `refs/heads/${branch}`, commit))) return;
  const from = (await gitOk(root, ['rev-parse', `refs/heads/${branch}`])).trim();
  const rebased = await rebaseAside(root, 'drop', from, ['--onto', `${commit}^`, commit]);
  if (!rebased.ok) throw new SyncConflict(`could not take back the claim ${commit.slice(0, 12)}: ${rebased.why}`);
  await moveCheckout(root, branch, from, rebased.commit, `tend: take back ${commit.slice(0, 12)}`);
}

/** The item file at `file` in `rev`, as text; undefined when `rev` has no such file. */
export async function fileAt(root: string, rev: string, file: string): Promise<string | undefined> {
  const result = await git(root, ['show', `${rev}:${file}`]);
  return result.exitCode === 0 ? result.stdout : undefined;
}

/** The last commit on HEAD that touched `file`. */
export async function lastCommitOf(root: string, file: string): Promise<string | undefined> {
  const result = await git(root, ['log', '-1', '--format=%H', '--', file]);
  return result.exitCode === 0 && result.stdout.trim() ? result.stdout.trim() : undefined;
}

/** Whether `commit` is in `rev`'s history. */
export async function contains(root: string, rev: string, commit: string): Promise<boolean> {
  return (await git(root, ['merge-base', '--is-ancestor', commit, rev])).exitCode === 0;
}

/**
 * Push the item work branches (`tend/<id>`), so a pull request can be opened from any clone.
 * Best effort: a branch the remote has moved on is left as it is there, and said.
 */
export async function pushWorkBranches(root: string, remote: string): Promise<string | undefined> {
  const any = await git(root, ['for-each-ref', '--count=1', '--format=%(refname)', 'refs/heads/tend/']);
  if (any.exitCode !== 0 || any.stdout.trim() === '') return undefined;
  const result = await git(root, ['push', '--quiet', '--porcelain', remote, 'refs/heads/tend/*:refs/heads/tend/*']);
  if (result.exitCode === 0) return undefined;
  const why = classify(remote, 'push', `${result.stderr}\n${result.stdout}`);
  return why === 'rejected'
    ? `some tend/<id> branches were not pushed: ${remote} has other commits on them`
    : why.message;
}

/** A transition commit, as its trailers say it. */
export interface TransitionSeen {
  hash: string;
  id: string;
  outcome: string;
  /** The claim it took the item over from (`Tend-Previous-Owner`), when it did. */
  previousOwner?: string;
}

/** The transition commits in `range` (`a..b`), newest first. */
export async function transitionsIn(root: string, range: string): Promise<TransitionSeen[]> {
  const key = (k: string) => `%(trailers:key=${k},valueonly,separator=)`;
  const format = `%H%x1f${key('Tend-Item')}%x1f${key('Tend-Outcome')}%x1f${key('Tend-Previous-Owner')}`;
  const out = await gitOk(root, ['log', '--no-merges', '--grep=^Tend-Item:', `--format=${format}`, range]);
  const seen: TransitionSeen[] = [];
  for (const line of out.split('\n')) {
    const [hash = '', id = '', outcome = '', previousOwner = ''] = line.split('\x1f').map((f) => f.trim());
    if (hash && id) seen.push({ hash, id, outcome, previousOwner: previousOwner || undefined });
  }
  return seen;
}

/** The texts of item `id`'s item.md that `commit` changed, as they were in its parent (absent ones left out). */
export async function itemTextsBefore(root: string, commit: string, id: string): Promise<string[]> {
  const out = await gitOk(root, ['diff-tree', '-r', '--no-renames', '--name-only', '--no-commit-id', commit]);
  const inbox = `${BACKLOG_DIR}/${id}.md`;
  const mine = out.split('\n').filter((p) => p === inbox || (idOfPath(p) === id && p.endsWith('/item.md')));
  const texts = await Promise.all(mine.map((p) => fileAt(root, `${commit}^`, p)));
  return texts.filter((t): t is string => t !== undefined);
}

/** A ref not taken yet for work of item `id` a sync takes out of the branch: `refs/tend/dropped/<id>/<n>`. */
export async function freeDroppedRef(root: string, id: string): Promise<string> {
  const out = await gitOk(root, ['for-each-ref', '--format=%(refname)', `refs/tend/dropped/${id}/`]);
  const taken = new Set(out.split('\n').filter(Boolean));
  let n = taken.size + 1;
  while (taken.has(`refs/tend/dropped/${id}/${n}`)) n++;
  return `refs/tend/dropped/${id}/${n}`;
}

/** Point `ref` at `commit`, so work taken out of the branch stays reachable (and out of git gc's way). */
export async function keepRef(root: string, ref: string, commit: string): Promise<void> {
  await gitOk(root, ['update-ref', ref, commit]);
}
