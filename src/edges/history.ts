// An item's history: the commits whose Tend-Item trailer names it, oldest first, as `tend show`
// prints them. Commands read history here rather than asking git themselves.
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
