// One sync with the git remote clones share: fetch, rename ids the other side took first,
// bring its commits in under ours, push. `tend sync` runs it once; `tend run --sync` before it
// schedules and after each transition. The writer makes every commit (a renamed id, the rebase);
// this module only decides and pushes.
import { setTimeout } from 'node:timers/promises';
import { uniqueId } from '../core/slug.js';
import { PROGRESS_KEYS } from '../core/engine-keys.js';
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
  freeDroppedRef,
  idsIn,
  itemTextsBefore,
  pushBranch,
  pushWorkBranches,
  readSyncState,
  trackingRef,
  transitionsIn,
  writeSyncState,
} from '../edges/remote.js';
import { carryOut, PENDING, workingBranch, type Target } from './writer.js';
import { checkCanCommit, git, gitOk } from '../edges/git.js';
import { openRepo } from '../edges/repo.js';
import { CheckoutBusy } from '../edges/rewrite.js';

export { RemoteRefused, RemoteUnreachable } from '../edges/remote.js';
export { CheckoutBusy };

export interface SyncReport {
  /** Commits the remote had that we did not, brought in. */
  pulled: number;
  /** Commits of ours the remote took. */
  pushed: number;
  /** Items of ours renamed because the other side had taken their id. */
  renamed: Renamed[];
  /** Why some work branches (`tend/<id>`) were not pushed, when they were not. */
  branchesNote?: string;
  /** Work of ours the remote made void (a claim it took over, or never had): out of the branch, kept under `ref`. */
  dropped: Dropped[];
}

export interface Dropped {
  id: string;
  /** The claim the remote took the item over from; none for a claim of ours it never had. */
  owner?: string;
  commits: number;
  ref: string;
}

/** An item of ours renamed; `note` says what of its workspace could not follow. */
export interface Renamed {
  from: string;
  to: string;
  note?: string;
}

/** Pushes rejected in a row (another clone pushing each time in between) before a sync gives up. */
const MAX_PUSH_RACES = 8;
/** Longest random wait after a rejected push: clones that keep pushing in step fall out of step. */
const MAX_RACE_WAIT_MS = 3_000;

/**
 * Other clones pushed first every time this sync tried: nothing is wrong, the commits stay here
 * and a later sync pushes them (a run goes on; a claim is taken back and planned again).
 */
export class RemoteBusy extends TendError {}

/**
 * Sync once. Throws RemoteUnreachable or RemoteBusy (the commits stay local, a later sync pushes
 * them), RemoteRefused (access, a protected branch, a hook), or SyncConflict (undone, nothing lost).
 * Whatever happens is recorded for `tend status`.
 */
export async function syncOnce(
  target: Target & { branch: string },
  remote: string,
  beforeIntegrate?: (upstream: string) => Promise<void>,
): Promise<SyncReport> {
  return betweenSyncs(() => syncGuarded(target, remote, beforeIntegrate));
}

/**
 * One sync at a time in this process: the loop's and a job's claim would otherwise fetch into the
 * same tracking ref at once, which git refuses (`cannot lock ref`).
 */
let syncQueue: Promise<unknown> = Promise.resolve();

/**
 * Run `fn` while no sync runs in this process: syncs wait for it, and it for them. A job looks at
 * its claim and commits its phase's result this way, so a takeover a sync brings in cannot land
 * between the look and the commit.
 */
export function betweenSyncs<T>(fn: () => Promise<T>): Promise<T> {
  const run = syncQueue.then(fn);
  syncQueue = run.catch(() => undefined);
  return run;
}

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
  const report: SyncReport = { pulled: 0, pushed: 0, renamed: [], dropped: [] };
  for (let race = 0; race < MAX_PUSH_RACES; race++) {
    // The work branches come in the same fetch: a phase that starts here next builds on them.
    const remoteTip = await fetchBranch(root, remote, branch, true);
    const upstream = trackingRef(remote, branch);
    if (remoteTip) {
      let { ahead, behind } = await aheadBehind(root, upstream);
      // Nothing came in (the common case after our own transition): nothing to check, rename or
      // rebase, and the remote's item files are ours as they were.
      if (behind > 0) {
        await beforeIntegrate?.(upstream);
        report.dropped.push(...(await dropVoided(target, upstream)));
        const renamed = await renameCollisions(target, remote, upstream);
        report.renamed.push(...renamed);
        ({ ahead, behind } = await aheadBehind(root, upstream));
        await carryOut(target, { integrate: { upstream, merge: renamed.length > 0 } });
        report.pulled += behind;
      }
      if (ahead === 0) {
        report.branchesNote = await pushWorkBranches(root, remote);
        return report;
      }
      report.pushed = ahead;
    }
    if (!remoteTip)
      report.pushed = Number((await git(root, ['rev-list', '--count', `refs/heads/${branch}`])).stdout) || 0;
    // Work branches first: a clone that sees a phase's transition finds the code it names there.
    report.branchesNote = await pushWorkBranches(root, remote);
    if ((await pushBranch(root, remote, branch)) === 'pushed') {
      return report;
    }
    if (race < MAX_PUSH_RACES - 1) await setTimeout(Math.random() * Math.min(MAX_RACE_WAIT_MS, 200 * 2 ** race));
  }
  throw new RemoteBusy(
    `the remote ${remote} took other clones' commits ${MAX_PUSH_RACES} times in a row before ours`,
    'run `tend sync` again in a moment',
  );
}

/** Outcomes of the remote's that move an item on: a claim of ours that had not reached it is void after one. */
const MOVED_ON = new Set([
  ...['claimed', 'done', 'failed', 'blocked', 'waiting', 'parked', 'interrupted', 'requeued', 'taken-over'],
  ...['approved', 'rejected', 'retry', 'moved', 'removed', 'redo'],
]);

/**
 * Work of ours the remote has made void is taken out of our history and kept under
 * `refs/tend/dropped/<id>/<n>`, so a late push never overwrites what another clone did:
 * - a dead owner's late push: the remote took the item over from a claim (its lease ran out,
 *   `Tend-Previous-Owner`), and our first commit of the item it lacks was made under that claim;
 * - a claim that never reached the remote (the run was killed mid-push, or offline, or the
 *   loop's sync came between the claim's commit and its push), after which the remote moved the
 *   item on (another clone claimed it, ran it, moved it).
 * The void claim and every commit of ours of that item after it go; earlier ones (our intake of
 * the item, which the remote also took in) are not void.
 */
async function dropVoided(target: Target & { branch: string }, upstream: string): Promise<Dropped[]> {
  const { root } = target;
  const theirs = (await transitionsIn(root, `HEAD..${upstream}`)).filter(
    (t) => t.previousOwner !== undefined || MOVED_ON.has(t.outcome),
  );
  const dropped: Dropped[] = [];
  if (theirs.length === 0) return dropped;
  // Another item under the same id, added on both sides: ours is renamed next, not void.
  const clashing = new Set((await collisions(root, upstream)).clashes.map((c) => c.id));
  for (const id of new Set(theirs.map((t) => t.id))) {
    if (clashing.has(id)) continue;
    // Looked up per item: dropping one item's commits rewrites the hashes of the commits after them.
    const ours = (await transitionsIn(root, `${upstream}..HEAD`)).filter((t) => t.id === id);
    const first = ours[ours.length - 1];
    if (!first) continue;
    const owners = new Set(theirs.flatMap((t) => (t.id === id && t.previousOwner ? [t.previousOwner] : [])));
    const before = (await itemTextsBefore(root, first.hash, id)).map((text) => dataOf(text)?.owner);
    const owner = before.find((o): o is string => typeof o === 'string' && owners.has(o));
    // Newest first: our earliest claim the remote lacks, and what came after it. What came before
    // it (the item's intake here, a person's edit) is not void and is brought onto the remote's.
    const voided = owner ? ours : ours.slice(0, ours.findLastIndex((t) => t.outcome === 'claimed') + 1);
    if (voided.length === 0) continue;
    const ref = await freeDroppedRef(root, id);
    await carryOut(target, { drop: voided.map((t) => t.hash), keep: ref });
    dropped.push({ id, owner, commits: voided.length, ref });
  }
  return dropped;
}

/** What a run or `tend sync` says of work it dropped. */
export function droppedNote(d: Dropped, remote: string): string {
  const why = d.owner
    ? `${remote} took it over from ${d.owner} (its lease ran out)`
    : `${remote} moved it on before this clone's claim reached it`;
  return (
    `${d.id}: ${why}, so ${d.commits} commit(s) made here under that claim are taken out of this branch; ` +
    `they are kept under ${d.ref} (\`git log ${d.ref}\`)`
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

/** A local change stopped the claim's sync after it found that the remote had moved the item. */
export class ClaimLostBehindChange extends CheckoutBusy {}

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
    if (lost) return;
    const commit = await claimCommit(root, claimed);
    if (!commit || (await contains(root, upstream, commit))) return;
    if (!(await remoteMoved(root, upstream, before))) return;
    // Lost even when the drop cannot happen now: no agent starts, and a later sync drops the
    // claim as one the remote moved on from before it arrived.
    lost = true;
    await carryOut(target, { drop: commit });
  };
  try {
    await syncOnce(target, remote, check);
  } catch (err) {
    // A local change in the way of the remote's commits: the claim stays when the remote had not
    // moved the item (the caller runs it as offline), and is lost when it had.
    if (err instanceof CheckoutBusy && lost) throw new ClaimLostBehindChange(err.message, err.fix, { cause: err });
    if (!(err instanceof RemoteBusy)) throw err;
    // Other clones kept pushing first: the claim never reached the remote, so it is no claim.
    const commit = await claimCommit(root, claimed);
    if (commit && !(await contains(root, trackingRef(remote, target.branch), commit)))
      await carryOut(target, { drop: commit });
    return 'lost';
  }
  if (lost) return 'lost';
  // A sync of the loop may have rebased our claim onto another clone's first: the item is then
  // theirs (their claim won the merge, ours became empty), and nothing may run here.
  const now = await fileAt(root, 'HEAD', claimed.file);
  const data = now === undefined ? undefined : dataOf(now);
  return data?.status === 'running' && data.owner === claimed.fields.owner ? 'held' : 'lost';
}

/**
 * Our claim commit of `claimed` as HEAD has it now (a sync may have rebased it), or undefined once
 * it is gone: the last commit of the item's file, only when it is that claim. Once the claim is
 * dropped, that commit is the one before it (our own transition that brought the item to this
 * phase, perhaps not pushed yet), which must never be taken for the claim.
 */
async function claimCommit(root: string, claimed: Item): Promise<string | undefined> {
  const commit = await lastCommitOf(root, claimed.file);
  if (!commit) return undefined;
  const [seen] = await transitionsIn(root, `${commit}^!`);
  if (seen?.id !== claimed.id || seen.outcome !== 'claimed') return undefined;
  // Ours, not another clone's claim of the item that a rebase put under ours.
  const text = await fileAt(root, commit, claimed.file);
  return text !== undefined && dataOf(text)?.owner === claimed.fields.owner ? commit : undefined;
}

/**
 * Whether the remote (`upstream`) moved the item on since our claim `commit` was made from
 * `before`: its progress differs there, or, when the remote does not have the item where it was
 * (our own earlier transition of it may not be pushed yet), the remote has commits of the item
 * that we lack. A person's edit of the item's own keys (a priority) does not move it.
 */
async function remoteMoved(root: string, upstream: string, before: Item): Promise<boolean> {
  // Against where both sides parted, not against our claim's parent: our own unpushed commits of
  // the item (a requeue, a transition) are no move of the remote's.
  const fork = (await gitOk(root, ['merge-base', 'HEAD', upstream])).trim();
  const [theirs, base] = await Promise.all([fileAt(root, upstream, before.file), fileAt(root, fork, before.file)]);
  if (theirs !== undefined && base !== undefined) return engineMoved(base, theirs);
  const paths = [`:(glob)${BACKLOG_DIR}/*/${before.id}/**`, `:(literal)${BACKLOG_DIR}/${before.id}.md`];
  return (await gitOk(root, ['log', '-1', '--format=%H', `${fork}..${upstream}`, '--', ...paths])).trim() !== '';
}

function dataOf(text: string): Record<string, unknown> | undefined {
  const split = splitFrontmatter(text);
  return 'value' in split ? readYaml(split.value).data : undefined;
}

/** Whether the keys of the item's progress differ between two texts of an item (unreadable counts as moved). */
function engineMoved(a: string, b: string): boolean {
  const [x, y] = [dataOf(a), dataOf(b)];
  if (!x || !y) return true;
  return PROGRESS_KEYS.some((k) => JSON.stringify(x[k]) !== JSON.stringify(y[k]));
}
