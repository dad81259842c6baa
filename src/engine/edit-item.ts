// A person's edit of an item from the board (its priority, its text): item.md rewritten and
// committed through the writer, the commit a hand edit of the file would get from a run.
import type { Item } from '../core/backlog.js';
import { serializeItem, updateItem } from '../core/item.js';
import { TendError } from '../core/problem.js';
import { commitMessage } from '../core/transition.js';
import { checkCanCommit } from '../edges/git.js';
import type { Repo } from '../edges/repo.js';
import { writeFileAtomic } from '../edges/store.js';
import { carryOut, workingBranch } from './writer.js';

export interface ItemEdit {
  priority?: number;
  /** The text below the frontmatter. */
  body?: string;
}

/** Write `edit` into `item`'s item.md and commit it; returns the line to report. */
export async function editItem(repo: Repo, item: Item, edit: ItemEdit, by: string): Promise<string> {
  if (item.fields.status === 'running')
    throw new TendError(`${item.id} is being worked on by an agent`, 'edit it once its phase has ended');
  const author = repo.config.settings.git.author;
  await checkCanCommit(repo.root, author, { waitForIndex: false });
  const branch = await workingBranch(repo.root, repo.config.settings.git.branch, 'command');
  const what: string[] = [];
  let parsed = item.parsed;
  if (edit.priority !== undefined && edit.priority !== item.fields.priority) {
    parsed = updateItem(parsed, { priority: edit.priority });
    what.push(`priority: ${item.fields.priority} -> ${edit.priority}`);
  }
  if (edit.body !== undefined && edit.body !== parsed.frontmatter.body) {
    const body = edit.body.replace(/\r\n/g, '\n');
    parsed = { ...parsed, frontmatter: { ...parsed.frontmatter, body: body.endsWith('\n') ? body : `${body}\n` } };
    what.push('text');
  }
  if (what.length === 0) return `${item.id}: nothing changed`;
  await writeFileAtomic(repo.root, item.file, serializeItem(parsed));
  const summary = `edited ${by} (${what.join(', ')})`;
  const message = commitMessage({ id: item.id, summary, phase: item.location, outcome: 'edited' });
  await carryOut({ root: repo.root, branch, author }, { paths: [item.file], message });
  return `${item.id}: ${summary}`;
}
