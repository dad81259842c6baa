// History read back from git: an item's commits, oldest first, as `tend show` prints them, and
// the commits of every transition, newest first, for `tend log`. Commands read history here
// rather than asking git themselves.
import { currentBranchFast, findRepoRoot, git, gitOk, headCommit } from './git.js';
import { gitDate, LOG_FORMAT, parseLog, type CommitRecord } from '../core/transition-log.js';
import { TendError } from '../core/problem.js';

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

export interface LogQuery {
  /** Anything git takes for `--since`/`--until`: `12 hours ago`, `2026-12-01`, `yesterday 18:00`. */
  since?: string;
  until?: string;
  /** Only this item's commits, and only these outcomes: git leaves the others out before they are read. */
  id?: string;
  outcomes?: readonly string[];
}

/**
 * The commits on HEAD that may be tend's (a `Tend-Item` or `Tend-Outcome` line in the message),
 * newest first, in one `git log`; whether a commit really is a transition, and of that item and
 * outcome, is its trailers' call (src/core/transition-log.ts). A repository with no commit yet has none.
 */
export async function transitionCommits(cwd: string, query: LogQuery = {}): Promise<CommitRecord[]> {
  const root = await findRepoRoot(cwd);
  if (!root) throw new TendError(`${cwd} is not inside a git repository`, 'run it inside the repository (or a clone)');
  if (!(await headCommit(root))) return [];
  const out = await gitOk(root, [
    'log',
    '-z',
    '-E',
    '--regexp-ignore-case',
    // A user's log.showSignature would put gpg's lines among the records.
    '--no-show-signature',
    ...grepFor(query),
    ...(query.since === undefined ? [] : [`--since=${gitDate(query.since)}`]),
    ...(query.until === undefined ? [] : [`--until=${gitDate(query.until)}`]),
    `--format=${LOG_FORMAT}`,
    '--',
  ]);
  return parseLog(out);
}

/** Message lines every wanted commit has (all of them: `--all-match`); a superset of the transitions wanted. */
function grepFor(query: LogQuery): string[] {
  const value = (key: string, values: readonly string[]) =>
    `--grep=^${key}:[[:space:]]*(${values.map(escapeRegex).join('|')})[[:space:]]*$`;
  const greps = ['--grep=^Tend-(Item|Outcome):'];
  if (query.id !== undefined) greps.push(value('Tend-Item', [query.id]));
  if (query.outcomes !== undefined && query.outcomes.length > 0) greps.push(value('Tend-Outcome', query.outcomes));
  return greps.length > 1 ? ['--all-match', ...greps] : greps;
}

function escapeRegex(text: string): string {
  return text.replace(/[\\^$.*+?()[\]{}|]/g, '\\$&');
}

/** What an item's work changed: its branch against the base, or the merge that landed it. */
export interface ItemDiff {
  files: number;
  insertions: number;
  deletions: number;
  source: 'branch' | 'merge' | null;
  /** The two revisions compared (`git diff <from> <to>`), when there is something to compare. */
  range?: { from: string; to: string };
}

/**
 * Where item `id`'s work is: branch `tend/<id>` against `base` (from where they part), else the
 * commit that landed it on HEAD: the `tend: merge tend/<id>` commit (`merge: merge`), or for
 * `merge: ff` the commits fast-forwarded in just before its done transition (only when `landed`:
 * the item is done and tend dropped its branch key, as it does once the work has landed).
 */
async function itemRange(
  root: string,
  id: string,
  base: string,
  landed: boolean,
): Promise<(ItemDiff['range'] & { source: 'branch' | 'merge' }) | undefined> {
  const branch = `refs/heads/tend/${id}`;
  const tip = (await git(root, ['rev-parse', '--verify', '--quiet', `${branch}^{commit}`])).stdout.trim();
  if (tip) {
    const fork = (await git(root, ['merge-base', base, tip])).stdout.trim();
    if (fork) return { from: fork, to: tip, source: 'branch' };
  }
  if (!(await headCommit(root))) return undefined;
  // Anchored: the merge of tend/fix must not be taken for that of tend/fix-login.
  const grep = `--grep=^tend: merge tend/${escapeRegex(id)}$`;
  const merge = await git(root, ['log', '-1', '--format=%H', '-E', grep, 'HEAD']);
  const commit = merge.stdout.trim();
  if (commit) return { from: `${commit}^1`, to: commit, source: 'merge' };
  return landed ? fastForwarded(root, id) : undefined;
}

/**
 * `merge: ff` leaves no merge commit: the landed commits sit on the first-parent line right
 * before the item's done transition, after the transition before them (a commit with tend's
 * trailers). Undefined when nothing came in between (`merge: none`, or nothing to land).
 */
async function fastForwarded(root: string, id: string): Promise<(ItemDiff['range'] & { source: 'merge' }) | undefined> {
  const done = await git(root, [
    'log',
    '-1',
    '--format=%H',
    '-E',
    '--all-match',
    `--grep=^Tend-Item: ${escapeRegex(id)}$`,
    '--grep=^Tend-Outcome: done$',
    '--grep=-> done',
    'HEAD',
  ]);
  const doneCommit = done.stdout.trim();
  if (!doneCommit) return undefined;
  const before = await git(root, [
    'log',
    '--first-parent',
    '--max-count=500',
    '--format=%H%x1f%(trailers:key=Tend-Outcome,valueonly)%x1e',
    `${doneCommit}^`,
  ]);
  const records = before.stdout.split('\x1e').map((r) => r.trim().split('\x1f'));
  const stop = records.findIndex(([, outcome]) => Boolean(outcome?.trim()));
  if (stop <= 0) return undefined;
  return { from: records[stop]?.[0] ?? '', to: `${doneCommit}^`, source: 'merge' };
}

/** The diffstat of item `id`'s work against `base` (a branch name); zeros and `source: null` when none is found. */
export async function itemDiff(root: string, id: string, base: string, landed: boolean): Promise<ItemDiff> {
  const range = await itemRange(root, id, base, landed);
  if (!range) return { files: 0, insertions: 0, deletions: 0, source: null };
  const numstat = await gitOk(root, ['diff', '--numstat', '--no-renames', range.from, range.to]);
  let files = 0;
  let insertions = 0;
  let deletions = 0;
  for (const line of numstat.split('\n')) {
    const [added, removed] = line.split('\t');
    if (added === undefined || removed === undefined) continue;
    files += 1;
    insertions += Number(added) || 0; // a binary file says "-"
    deletions += Number(removed) || 0;
  }
  return { files, insertions, deletions, source: range.source, range: { from: range.from, to: range.to } };
}

/** `git diff` of a range itemDiff found: `stat` for the per-file summary, else the whole patch. */
export async function diffText(
  root: string,
  range: { from: string; to: string },
  opts: { stat: boolean; color: boolean },
): Promise<string> {
  const color = opts.color ? '--color=always' : '--no-color';
  return gitOk(root, ['diff', color, ...(opts.stat ? ['--stat=100'] : []), range.from, range.to]);
}

/** The branch items' work starts from: `git.branch`, else the branch checked out (undefined when detached). */
export async function baseBranch(root: string, configured: string | undefined): Promise<string | undefined> {
  return configured ?? (await currentBranchFast(root));
}
