// An item's history: the commits whose Tend-Item trailer names it, oldest first, as `tend show`
// prints them; and which finished items are the latest. Commands read history here rather than
// asking git themselves.
import { BACKLOG_DIR, DONE, ITEM_FILE } from '../core/backlog.js';
import { gitOk, headCommit } from './git.js';

export interface LogEntry {
  commit: string;
  date: string;
  author: string;
  subject: string;
  trailers: Record<string, string>;
}

const FIELD = '\x1f';
const RECORD = '\x1e';

/** Commits whose message carries `Tend-Item: <id>`, oldest first. */
export async function itemHistory(root: string, id: string): Promise<LogEntry[]> {
  if (!(await headCommit(root))) return [];
  const out = await gitOk(root, [
    'log',
    '--reverse',
    '-E',
    `--grep=^Tend-Item: ${id}$`,
    `--format=%H${FIELD}%aI${FIELD}%an${FIELD}%s${FIELD}%(trailers:only,unfold)${RECORD}`,
  ]);
  return out
    .split(RECORD)
    .map((r) => r.trim())
    .filter(Boolean)
    .map((record) => {
      const [commit = '', date = '', author = '', subject = '', trailerText = ''] = record.split(FIELD);
      const trailers: Record<string, string> = {};
      for (const line of trailerText.split('\n')) {
        const m = /^([A-Za-z0-9-]+):\s*(.*)$/.exec(line.trim());
        if (m?.[1]) trailers[m[1]] = m[2] ?? '';
      }
      return { commit, date, author, subject, trailers };
    });
}

/**
 * Item ids from the commits that added a `backlog/done/<id>/item.md`, newest commit first, from at
 * most `commits` commits (all when undefined); `complete` when the history had no more of them.
 */
async function doneAdditions(root: string, commits: number | undefined): Promise<{ ids: string[]; complete: boolean }> {
  const out = await gitOk(root, [
    'log',
    '--no-renames',
    '--diff-filter=A',
    `--format=%x1e`,
    '--name-only',
    ...(commits === undefined ? [] : [`--max-count=${commits}`]),
    '--',
    `:(glob)${BACKLOG_DIR}/${DONE}/*/${ITEM_FILE}`,
  ]);
  const found = out.split(RECORD).length - 1;
  const ids = out
    .split('\n')
    .map((line) => /^backlog\/done\/([^/]+)\/item\.md$/.exec(line)?.[1])
    .filter((id): id is string => id !== undefined);
  return { ids, complete: commits === undefined || found < commits };
}

/** The folder names in done/ as HEAD has them: an item folder in done/ and not among them is not committed yet. */
async function committedDone(root: string): Promise<Set<string>> {
  const out = await gitOk(root, ['ls-tree', '-z', '--name-only', 'HEAD', '--', `${BACKLOG_DIR}/${DONE}/`]);
  return new Set(out.split('\0').map((p) => p.slice(`${BACKLOG_DIR}/${DONE}/`.length)));
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
  if (!(await headCommit(root))) return [...done].sort().slice(0, wanted);
  const committed = await committedDone(root);
  const fresh = [...done].filter((id) => !committed.has(id)).sort();
  let found: string[] = [];
  for (let commits = wanted + 10; fresh.length < wanted; commits *= 4) {
    const added = await doneAdditions(root, limit === Infinity ? undefined : commits);
    found = [...new Set(added.ids.filter((id) => committed.has(id) && done.has(id)))];
    if (fresh.length + found.length >= wanted || added.complete) break;
  }
  const listed = new Set([...fresh, ...found]);
  // Committed in done/ with no commit that added an item.md there: an item folder without one.
  const rest = fresh.length + found.length >= wanted ? [] : [...done].filter((id) => !listed.has(id)).sort();
  return [...fresh, ...found, ...rest].slice(0, wanted);
}
