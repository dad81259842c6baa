// Which finished items are the latest: done/ is known by its folder names (Snapshot.done), and
// `tend status` shows the latest few of them, found in git's history rather than by reading them.
import { BACKLOG_DIR, DONE, ITEM_FILE } from '../core/backlog.js';
import { git } from './git.js';

const RECORD = '\x1e';
const DONE_PREFIX = `${BACKLOG_DIR}/${DONE}/`;

/**
 * Item ids from the commits that added a `backlog/done/<id>/item.md`, newest commit first, from at
 * most `commits` commits (all when undefined); `complete` when the history had no more of them.
 */
async function doneAdditions(root: string, commits: number | undefined): Promise<{ ids: string[]; complete: boolean }> {
  const result = await git(root, [
    'log',
    '--no-renames',
    '--diff-filter=A',
    '--format=%x1e',
    '--name-only',
    ...(commits === undefined ? [] : [`--max-count=${commits}`]),
    '--',
    `:(glob)${DONE_PREFIX}*/${ITEM_FILE}`,
  ]);
  // No commit yet: nothing was added.
  if (result.exitCode !== 0) return { ids: [], complete: true };
  const found = result.stdout.split(RECORD).length - 1;
  const suffix = `/${ITEM_FILE}`;
  const ids = result.stdout
    .split('\n')
    .filter((line) => line.startsWith(DONE_PREFIX) && line.endsWith(suffix))
    .map((line) => line.slice(DONE_PREFIX.length, -suffix.length));
  return { ids, complete: commits === undefined || found < commits };
}

/** The folder names in done/ as HEAD has them (none before the first commit): the rest is not committed yet. */
async function committedDone(root: string): Promise<Set<string>> {
  const result = await git(root, ['ls-tree', '-z', '--name-only', 'HEAD', '--', DONE_PREFIX]);
  if (result.exitCode !== 0) return new Set();
  return new Set(result.stdout.split('\0').map((p) => p.slice(DONE_PREFIX.length)));
}

/**
 * At most `limit` of the finished items `done`, the latest first (Infinity: all of them). Latest
 * by the commit that added the item's item.md to done/, newest first: a fresh clone has it, and
 * it counts an item however it got there (finished by a run, moved by hand and committed, by tend
 * or by a person). git log stops once it has found enough, so showing the latest five costs about
 * the same at 10 finished items as at 10,000. Items not committed in done/ yet (a move by hand
 * the next run commits) are newer than any of those and come first, by id.
 */
export async function latestDone(root: string, done: ReadonlySet<string>, limit: number): Promise<string[]> {
  const wanted = Math.min(limit, done.size);
  if (wanted === 0) return [];
  const first = limit === Infinity ? undefined : wanted + 10;
  // Both at once: each git start-up costs tens of milliseconds.
  const [committed, firstAdded] = await Promise.all([committedDone(root), doneAdditions(root, first)]);
  const fresh = [...done].filter((id) => !committed.has(id)).sort();
  const additions = (ids: string[]) => [...new Set(ids.filter((id) => committed.has(id) && done.has(id)))];
  let found = additions(firstAdded.ids);
  let complete = firstAdded.complete;
  for (let commits = (first ?? 0) * 4; fresh.length + found.length < wanted && !complete; commits *= 4) {
    const added = await doneAdditions(root, commits);
    found = additions(added.ids);
    complete = added.complete;
  }
  const listed = new Set([...fresh, ...found]);
  // Committed in done/ with no commit that added an item.md there: an item folder without one.
  const rest = fresh.length + found.length >= wanted ? [] : [...done].filter((id) => !listed.has(id)).sort();
  return [...fresh, ...found, ...rest].slice(0, wanted);
}
