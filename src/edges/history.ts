// History read back from git: an item's commits, oldest first, as `tend show` prints them, and
// the commits of every transition, newest first, for `tend log`. Commands read history here
// rather than asking git themselves.
import { findRepoRoot, gitOk, headCommit } from './git.js';
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
