// One sync with the git remote clones share: fetch, rename ids the other side took first,
// bring its commits in under ours, push. `tend sync` runs it once; `tend run --sync` before it
// schedules and after each transition. The writer makes every commit (a renamed id, the rebase);
// this module only decides and pushes.
import { uniqueId } from '../core/slug.js';
import { ENGINE_KEYS } from '../core/item-merge.js';
import { readYaml, splitFrontmatter } from '../core/frontmatter.js';
import type { Item } from '../core/backlog.js';
import { commitMessage } from '../core/transition.js';
import { TendError } from '../core/problem.js';
import { BACKLOG_DIR, ITEM_FILE } from '../core/backlog.js';
import { readItemFile } from '../edges/store.js';
import { renameWorkspace } from '../edges/workspace.js';
import {
  aheadBehind,
  contains,
  fileAt,
  lastCommitOf,
  aheadOfRemote,
  collisions,
  fetchBranch,
  idsIn,
  push,
  pushWorkBranches,
  readSyncState,
  trackingRef,
  writeSyncState,
} from '../edges/remote.js';
import { carryOut, PENDING, workingBranch, type Target } from './writer.js';
import { checkCanCommit, git } from '../edges/git.js';
import { openRepo } from '../edges/repo.js';

export { RemoteRefused, RemoteUnreachable } from '../edges/remote.js';
export { CheckoutBusy } from '../edges/rewrite.js';

export interface SyncReport {
  /** Commits the remote had that we did not, brought in. */
  pulled: number;
  /** Commits of ours the remote took. */
  pushed: number;
  /** Items of ours renamed because the other side had taken their id. */
  renamed: Renamed[];
  /** Why some work branches (`tend/<id>`) were not pushed, when they were not. */
  branchesNote?: string;
}

/** An item of ours renamed; `note` says what of its workspace could not follow. */
export interface Renamed {
  from: string;
  to: string;
  note?: string;
}

/** Pushes rejected in a row (another clone pushing each time in between) before a sync gives up. */
const MAX_PUSH_RACES = 8;

/**
 * Sync once. Throws RemoteUnreachable (the commits stay local, a later sync pushes them),
 * RemoteRefused (access, a protected branch, a hook), or SyncConflict (undone, nothing lost).
 * Whatever happens is recorded for `tend status`.
 */
export async function syncOnce(
  target: Target & { branch: string },
  remote: string,
  beforeIntegrate?: (upstream: string) => Promise<void>,
): Promise<SyncReport> {
  const run = syncQueue.then(() => syncGuarded(target, remote, beforeIntegrate));
  syncQueue = run.catch(() => undefined);
  return run;
}

/**
 * One sync at a time in this process: the loop's and a job's claim would otherwise fetch into the
 * same tracking ref at once, which git refuses (`cannot lock ref`).
 */
let syncQueue: Promise<unknown> = Promise.resolve();

async function syncGuarded(
  target: Target & { branch: string },
  remote: string,
  beforeIntegrate?: (upstream: string) => Promise<void>,
): Promise<SyncReport> {
  try {
    const report = await syncRaces(target, remote, beforeIntegrate);
    await writeSyncState(target.root, { remote, lastPush: new Date().toISOString() });
    return report;
  } catch (err) {
    await noteFailure(target.root, target.branch, remote, err);
    throw err;
  }
}

async function syncRaces(
  target: Target & { branch: string },
  remote: string,
  beforeIntegrate: ((upstream: string) => Promise<void>) | undefined,
): Promise<SyncReport> {
  const { root, branch } = target;
  const report: SyncReport = { pulled: 0, pushed: 0, renamed: [] };
  for (let race = 0; race < MAX_PUSH_RACES; race++) {
    const remoteTip = await fetchBranch(root, remote, branch);
    const upstream = trackingRef(remote, branch);
    if (remoteTip) {
      await beforeIntegrate?.(upstream);
      const renamed = await renameCollisions(target, remote, upstream);
      report.renamed.push(...renamed);
      const { ahead, behind } = await aheadBehind(root, upstream);
      await carryOut(target, { integrate: { upstream, merge: renamed.length > 0 } });
      report.pulled += behind;
      if (ahead === 0) {
        report.branchesNote = await pushWorkBranches(root, remote);
        return report;
      }
      report.pushed = ahead;
    }
    if (!remoteTip)
      report.pushed = Number((await git(root, ['rev-list', '--count', `refs/heads/${branch}`])).stdout) || 0;
    const pushed = await push(root, remote, [`refs/heads/${branch}:refs/heads/${branch}`]);
    if (pushed === 'pushed') {
      await fetchBranch(root, remote, branch);
      report.branchesNote = await pushWorkBranches(root, remote);
      return report;
    }
  }
  throw new TendError(
    `the remote ${remote} took other clones' commits ${MAX_PUSH_RACES} times in a row before ours`,
    'run `tend sync` again in a moment',
  );
}

/**
 * Items both sides added under the same id since they parted: ours came later (it is the one
 * being brought onto the remote), so ours takes the next free id (`-2`, `-3`, ...), one commit
 * each, and both items are kept. Our items added meanwhile that depend on it follow it in the
 * same commit; its work branch, worktree and logs follow it too (renameWorkspace).
 */
async function renameCollisions(target: Target, remote: string, upstream: string): Promise<Renamed[]> {
  const { clashes, ours: added } = await collisions(target.root, upstream);
  if (clashes.length === 0) return [];
  const [ours, theirs] = await Promise.all([idsIn(target.root, 'HEAD'), idsIn(target.root, upstream)]);
  const renamed: Renamed[] = [];
  for (const { id, path: from } of clashes) {
    const to = uniqueId(id, (c) => ours.has(c) || theirs.has(c));
    ours.add(to);
    const dest = from.endsWith('.md') ? `${BACKLOG_DIR}/${to}.md` : `${from.slice(0, -id.length)}${to}`;
    const message = commitMessage({
      id: to,
      summary: `renamed from ${id} (${remote} has another item with that id)`,
      outcome: 'renamed',
      extra: { 'Tend-Renamed-From': id },
    });
    const update = await dependents(target.root, added, id, to);
    await carryOut(target, { paths: [from, dest], message, rename: { from, to: dest }, update });
    const note = await renameWorkspace(target.root, id, to);
    renamed.push({ from: id, to, ...(note ? { note } : {}) });
  }
  return renamed;
}

/** Our items added since the fork whose `depends_on` names `from`: they meant ours, now `to`. */
async function dependents(
  root: string,
  added: Map<string, string[]>,
  from: string,
  to: string,
): Promise<{ file: string; id: string; changes: { depends_on: string[] } }[]> {
  const found = [];
  for (const [id, files] of added) {
    const file = files.find((f) => f.endsWith(`/${ITEM_FILE}`) || /^backlog\/[^/]+\.md$/.test(f));
    if (id === from || !file) continue;
    const read = await readItemFile(root, file, id).catch(() => undefined);
    const deps = read && 'parsed' in read ? read.parsed.fields.depends_on : [];
    if (deps.includes(from)) found.push({ file, id, changes: { depends_on: deps.map((d) => (d === from ? to : d)) } });
  }
  return found;
}

/** Record a failed sync: since when the clone has been ahead, and why. */
async function noteFailure(root: string, branch: string, remote: string, err: unknown): Promise<void> {
  const before = await readSyncState(root);
  const ahead = (await aheadOfRemote(root, remote, branch).catch(() => undefined)) ?? 1;
  const aheadSince =
    ahead > 0 ? (before?.remote === remote && before.aheadSince) || new Date().toISOString() : undefined;
  const lastError = err instanceof Error ? err.message : String(err);
  await writeSyncState(root, { remote, aheadSince, lastError, lastPush: before?.lastPush });
}

/** The remote a sync uses: the one named, else `git.remote` in ORCHESTRATOR.md. */
export function chooseRemote(named: string | undefined, configured: string | undefined): string {
  const remote = named ?? configured;
  if (!remote) {
    throw new TendError(
      'no remote to sync with',
      'name one (`tend sync origin`), or set `git: { remote: origin }` in ORCHESTRATOR.md',
    );
  }
  return remote;
}

/** `tend sync [REMOTE]`: one pull and push by hand, after the checks a command makes before committing. */
export async function syncByHand(cwd: string, named: string | undefined): Promise<SyncReport & { remote: string }> {
  const repo = await openRepo(cwd);
  const { settings } = repo.config;
  const remote = chooseRemote(named, settings.git.remote);
  await checkCanCommit(repo.root, settings.git.author, { waitForIndex: true });
  const branch = await workingBranch(repo.root, settings.git.branch, 'command');
  await carryOut({ root: repo.root, branch }, PENDING);
  const report = await syncOnce({ root: repo.root, branch, author: settings.git.author }, remote);
  return { ...report, remote };
}

/**
 * Claim by push: the claim commit of `claimed` (which was `before`) goes to the remote before its
 * agent starts. When the remote has moved the item meanwhile (another clone claimed it, ran it,
 * moved it), the claim is taken out of our history, so no commit of ours survives for it, and
 * 'lost' is returned: the loop schedules again from what the remote says. A person's edit of the
 * item's own keys (a priority) does not void the claim; it is merged in.
 */
export async function claimByPush(
  target: Target & { branch: string },
  remote: string,
  before: Item,
  claimed: Item,
): Promise<'held' | 'lost'> {
  const { root } = target;
  let lost = false;
  const check = async (upstream: string): Promise<void> => {
    // Looked up here, inside the sync: a sync before this one may have rebased the claim.
    const commit = await lastCommitOf(root, claimed.file);
    if (lost || !commit || (await contains(root, upstream, commit))) return;
    const theirs = await fileAt(root, upstream, before.file);
    const base = await fileAt(root, `${commit}^`, before.file);
    if (theirs !== undefined && base !== undefined && !engineMoved(base, theirs)) return;
    lost = true;
    await carryOut(target, { drop: commit });
  };
  await syncOnce(target, remote, check);
  if (lost) return 'lost';
  // A sync of the loop may have rebased our claim onto another clone's first: the item is then
  // theirs (their claim won the merge, ours became empty), and nothing may run here.
  const now = await fileAt(root, 'HEAD', claimed.file);
  const data = now === undefined ? undefined : dataOf(now);
  return data?.status === 'running' && data.owner === claimed.fields.owner ? 'held' : 'lost';
}

function dataOf(text: string): Record<string, unknown> | undefined {
  const split = splitFrontmatter(text);
  return 'value' in split ? readYaml(split.value).data : undefined;
}

/** Whether the engine's keys differ between two texts of an item (unreadable counts as moved). */
function engineMoved(a: string, b: string): boolean {
  const [x, y] = [dataOf(a), dataOf(b)];
  if (!x || !y) return true;
  return ENGINE_KEYS.some((k) => JSON.stringify(x[k]) !== JSON.stringify(y[k]));
}
