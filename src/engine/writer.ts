// The one writer: every change tend makes to the repository is carried out and committed here.
// An item's decision is carried out in this order, for kill -9: the branch is checked, the item's
// workspace settled (merge, worktree removal), the transition journaled, the folder renamed
// (atomic), item.md rewritten atomically, then both paths committed. A crash leaves the item
// whole in one folder, never half-written or twice, and the journal record lets the next run
// (or command) finish the commit. Files tend creates (`tend add`, `tend init`) and changes made
// by hand are committed as they are on disk.
import { existsSync } from 'node:fs';
import { mkdir, readdir, rename } from 'node:fs/promises';
import path from 'node:path';
import { checkNotRewritten, commitPaths, currentBranchFast, withGitLock } from '../edges/git.js';
import { dropCommit, integrate, keepRef, trackingRef } from '../edges/remote.js';
import { serializeItem, updateItem, type ItemChanges } from '../core/item.js';
import { formatProblem, TendError } from '../core/problem.js';
import { commitMessage, type Transition } from '../core/transition.js';
import type { Decision } from '../core/decide.js';
import type { Settings } from '../core/settings.js';
import { done, forget, pendingRecords, readyToFinish, record, sha256, type Finished } from '../edges/journal.js';
import { readItemFile, refuseSymlinkedFolders, writeFileAtomic } from '../edges/store.js';
import { itemBranch, settleWorkspace } from '../edges/workspace.js';
import { expectFolderMove, expectOwnWrite } from '../edges/own-writes.js';
import { BACKLOG_DIR, INBOX, ITEM_FILE, type Item } from '../core/backlog.js';

/** Where changes are committed, and as whom. */
export interface Target {
  root: string;
  /** The branch tend works on: a commit is refused if HEAD is elsewhere or the branch was rewritten. */
  branch?: string;
  author?: string;
}

/** What carrying out an item's decision needs besides the target: how to settle its workspace. */
export interface ItemTarget extends Target {
  branch: string;
  settings: Settings;
  /** Stops a workspace hook the settling runs. */
  signal?: AbortSignal;
  /** Told of what the settling found and kept (work a review lens left in its worktree). */
  warn?: (message: string) => void;
  /** The remote the clone syncs with: an item's branch built on another clone is taken from it. */
  remote?: string;
}

/** A decision about an item. */
export interface ItemChange {
  item: Item;
  decision: Decision;
}

/** Paths committed as they are on disk (changes made by hand, files `tend init` wrote). */
export interface FilesChange {
  paths: string[];
  message: string;
  /** A file to write first (`tend add`), committed with the paths. */
  create?: { file: string; text: string };
  /** A file or folder to rename first (an id another clone took), committed with the paths. */
  rename?: { from: string; to: string };
  /** Items whose frontmatter to change first (their `depends_on` on a renamed id), committed with the paths. */
  update?: { file: string; id: string; changes: ItemChanges }[];
}

/** The remote's commits brought in under ours (tend sync): the only other way tend's branch moves. */
export interface IntegrateChange {
  integrate: { upstream: string; merge: boolean };
}

/**
 * Commits of ours taken out of the branch: a claim another clone won first, or the work done
 * under a claim another clone took over (given newest first). `keep`: a ref left on the newest,
 * so the work stays reachable.
 */
export interface DropChange {
  drop: string | string[];
  keep?: string;
}

/** The journal records a killed tend process left: finished, or reported busy while their process lives. */
export interface PendingChange {
  pending: true;
}

export const PENDING: PendingChange = { pending: true };

export interface ItemWritten {
  /** The item where the decision left it. */
  item: Item;
  /** The transition committed, as settling the workspace made it (a failed merge blocks). */
  transition: Transition;
  /** False when nothing changed on disk, so no commit was made. */
  committed: boolean;
}

/**
 * Carry out `change` and commit it; returns what happened, for the caller to report. The one
 * place tend commits.
 */
export function carryOut(target: ItemTarget, change: ItemChange): Promise<ItemWritten>;
export function carryOut(target: Target, change: FilesChange): Promise<boolean>;
export function carryOut(target: Target, change: PendingChange): Promise<Finished>;
export function carryOut(target: Target & { branch: string }, change: IntegrateChange | DropChange): Promise<void>;
export function carryOut(
  target: Target,
  change: ItemChange | FilesChange | PendingChange | IntegrateChange | DropChange,
): Promise<ItemWritten | boolean | Finished | void> {
  if ('drop' in change) return dropOwn(target as Target & { branch: string }, change);
  if ('pending' in change) return finishPending(target);
  if ('integrate' in change) return integrateRemote(target as Target & { branch: string }, change.integrate);
  if ('paths' in change) return commitFiles(target, change);
  return carryOutDecision(target as ItemTarget, change);
}

/**
 * The branch HEAD is on, which tend commits on: refused when HEAD is detached or git.branch
 * (`configured`) names another. `by` words the refusal for a run or for a command.
 */
export async function workingBranch(
  root: string,
  configured: string | undefined,
  by: 'run' | 'command',
): Promise<string> {
  const branch = (await currentBranchFast(root)) ?? '';
  if (!branch && by === 'run')
    throw new TendError('HEAD is detached', 'check out a branch: tend commits every transition on the current branch');
  // As for `tend run`: transitions (and merges) go on the branch tend works on, never elsewhere.
  if (!branch)
    throw new TendError('the checkout is on a detached HEAD', 'check out the branch tend works on, then try again');
  if (configured && configured !== branch)
    throw new TendError(
      `ORCHESTRATOR.md sets git.branch: ${configured}, but ${branch} is checked out`,
      by === 'run' ? `check out ${configured}, or remove git.branch` : `check out ${configured}, then try again`,
    );
  return branch;
}

async function carryOutDecision(target: ItemTarget, { item, decision }: ItemChange): Promise<ItemWritten> {
  // Before touching the item: a rewritten branch may have taken its folder back in time. HEAD on
  // another branch is refused only at the commit: the move is journaled by then, so a phase's
  // paid result is committed once the person switches back, not run again.
  await checkNotRewritten(target.root, target.branch);
  const signal = target.signal ?? new AbortController().signal;
  const { remote } = target;
  const upstream = remote ? { ref: trackingRef(remote, itemBranch(item.id)), remote } : undefined;
  const { root, settings, branch, warn } = target;
  const d = await settleWorkspace(root, item, decision, settings, branch, signal, warn, upstream);
  const applied = await applyTransition(target, item, d);
  return { ...applied, transition: d.transition };
}

/**
 * Rebase tend's commits onto the remote's (or merge them), one git operation at a time with the
 * run's commits; a branch rewritten under tend is refused first, as before any commit.
 */
async function integrateRemote(
  target: Target & { branch: string },
  { upstream, merge }: IntegrateChange['integrate'],
): Promise<void> {
  await checkNotRewritten(target.root, target.branch);
  await withGitLock(() => integrate(target.root, target.branch, upstream, merge));
}

async function dropOwn(target: Target & { branch: string }, { drop, keep }: DropChange): Promise<void> {
  await checkNotRewritten(target.root, target.branch);
  const commits = typeof drop === 'string' ? [drop] : drop;
  await withGitLock(async () => {
    if (keep && commits[0]) await keepRef(target.root, keep, commits[0]);
    // Newest first: taking one out rewrites only the commits after it, never an older one still to go.
    for (const commit of commits) await dropCommit(target.root, target.branch, commit);
  });
}

async function commitFiles(target: Target, change: FilesChange): Promise<boolean> {
  const { root } = target;
  if (change.rename) {
    await mkdir(path.dirname(path.join(root, change.rename.to)), { recursive: true });
    await rename(path.join(root, change.rename.from), path.join(root, change.rename.to));
  }
  if (change.create) {
    await mkdir(path.join(root, path.dirname(change.create.file)), { recursive: true });
    await writeFileAtomic(root, change.create.file, change.create.text);
  }
  for (const { file, id, changes } of change.update ?? []) {
    const fresh = await readItemFile(root, file, id);
    // An item left invalid by hand is not touched; the scheduler reports it as it is.
    if ('parsed' in fresh) await writeFileAtomic(root, file, serializeItem(updateItem(fresh.parsed, changes)));
  }
  const updated = (change.update ?? []).map((u) => u.file);
  const paths = [...(change.create ? [change.create.file] : []), ...change.paths, ...updated];
  return commitPaths(root, paths, change.message, { author: target.author, branch: target.branch });
}

/** Finish, oldest first, the records of processes that are gone (or of commits of this one that failed). */
async function finishPending(target: Target): Promise<Finished> {
  const { root, branch } = target;
  const { records, busy } = await pendingRecords(root);
  const committed: string[] = [];
  for (const { file, entry } of records) {
    const paths = entry ? await readyToFinish(root, entry) : undefined;
    if (entry && paths && (await commitPaths(root, paths, entry.message, { author: entry.author, branch })))
      committed.push(entry.message.split('\n')[0] ?? '');
    await forget(file);
  }
  return { committed, busy };
}

/**
 * Move the item to `d.to` (if given), set `d.changes` in its item.md, and commit. The changes
 * are applied to item.md as it is on disk now, so a human's edit made while its phase ran is
 * kept; an item.md that a human left invalid is not touched at all.
 */
async function applyTransition(target: Target, item: Item, d: Decision): Promise<{ item: Item; committed: boolean }> {
  const { root } = target;
  const fresh = await readItemFile(root, item.file, item.id);
  if ('problems' in fresh) {
    throw new TendError(
      `${item.file} cannot be updated: ${fresh.problems.map(formatProblem).join('; ')}`,
      'fix the file; tend leaves it as it is until then',
    );
  }
  const location = d.to ?? item.location;
  const dir = `${BACKLOG_DIR}/${location}/${item.id}`;
  const file = `${dir}/${ITEM_FILE}`;
  const moving = location !== item.location;
  await checkDestination(root, item, dir, moving);
  const parsed = updateItem(fresh.parsed, d.changes);
  const after = serializeItem(parsed);
  // Where the item goes, and below where it moves from. Literal paths: a pattern such as
  // backlog/*/<id>/** would make git walk every folder under backlog/, done/ included. A crash
  // between the move and the commit is finished from the journal record written first.
  const from = item.location === INBOX ? [item.file] : moving && item.dir ? [item.dir] : [];
  const sources = [...from, ...(d.leftBehind ?? [])];
  const message = commitMessage(d.transition);
  const before = sha256(serializeItem(fresh.parsed));
  const journaled = { id: item.id, file, moved: moving, before, after, paths: [dir], sources, message };
  const pending = await record(root, { pid: process.pid, ...journaled, author: target.author });
  expectTransition(root, item, dir, moving, after);
  let committed = false;
  let finished = false;
  try {
    if (moving) await moveItem(root, item, location, dir);
    await writeFileAtomic(root, file, after);
    committed = await commitPaths(root, [dir, ...sources], message, { author: target.author, branch: target.branch });
    finished = true;
  } finally {
    // A failure part-way keeps the record, so the transition is completed once git allows.
    await done(pending, finished);
  }
  return { item: { ...item, location, dir, file, parsed, fields: parsed.fields }, committed };
}

/** Where the item is and where it goes, checked before anything moves: nothing crosses a symlink. */
async function checkDestination(root: string, item: Item, dir: string, moving: boolean): Promise<void> {
  await refuseSymlinkedFolders(root, item.dir ?? path.dirname(item.file));
  if (!moving) return;
  await refuseSymlinkedFolders(root, dir);
  if (existsSync(path.join(root, dir)) && !(await isEmptyDir(path.join(root, dir)))) {
    throw new TendError(
      `cannot move ${item.id} to ${dir}: that folder already exists`,
      `two items share the id ${item.id}; rename one of the folders`,
    );
  }
}

/**
 * How the item's paths will look once the transition is written, so a watching run can tell its
 * own file events from a person's (edges/own-writes.ts).
 */
function expectTransition(root: string, item: Item, dir: string, moving: boolean, after: string): void {
  if (moving) {
    expectOwnWrite(root, path.dirname(dir), { kind: 'dir' });
    expectOwnWrite(root, dir, { kind: 'dir' });
    if (item.location === INBOX) expectOwnWrite(root, item.file, { kind: 'absent' });
    else if (item.dir) {
      expectFolderMove(root, item.dir, dir);
      expectOwnWrite(root, item.dir, { kind: 'absent' });
    }
  }
  expectOwnWrite(root, `${dir}/${ITEM_FILE}`, { kind: 'text', text: after });
}

async function moveItem(root: string, item: Item, location: string, dir: string): Promise<void> {
  await mkdir(path.join(root, BACKLOG_DIR, location), { recursive: true });
  if (item.location === INBOX) {
    // Intake: the inbox file itself becomes item.md, so it exists in exactly one place.
    await mkdir(path.join(root, dir), { recursive: true });
    await rename(path.join(root, item.file), path.join(root, dir, ITEM_FILE));
  } else if (item.dir) {
    // rename(2) replaces an empty folder, which is all an interrupted move can leave there.
    await rename(path.join(root, item.dir), path.join(root, dir));
  }
}

async function isEmptyDir(dir: string): Promise<boolean> {
  return (await readdir(dir).catch(() => ['?'])).length === 0;
}
