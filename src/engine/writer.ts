// Carrying out a transition on disk: move the item folder, rewrite item.md, commit both paths.
// Order matters for kill -9: the transition is journaled, the folder is renamed (atomic), then
// item.md is rewritten atomically, so a crash leaves the item whole in one folder, never
// half-written or twice, and the next run commits what the crash left uncommitted.
import { existsSync } from 'node:fs';
import { mkdir, readdir, rename } from 'node:fs/promises';
import path from 'node:path';
import { commitPaths } from '../edges/git.js';
import { serializeItem, updateItem, type ItemChanges } from '../core/item.js';
import { formatProblem, TendError } from '../core/problem.js';
import { commitMessage, type Transition } from '../core/transition.js';
import { done, record, sha256 } from '../edges/journal.js';
import { readItemFile, refuseSymlinkedFolders, writeFileAtomic } from '../edges/store.js';
import { BACKLOG_DIR, INBOX, ITEM_FILE, type Item } from '../core/backlog.js';

export interface ApplyOptions {
  root: string;
  author?: string;
  /** The branch transitions are committed on; a commit is refused if HEAD is elsewhere. */
  branch?: string;
}

export interface Applied {
  item: Item;
  /** False when nothing changed on disk, so no commit was made. */
  committed: boolean;
}

/**
 * Move `item` to folder `to` (if given), set `changes` in its item.md, and commit. The changes
 * are applied to item.md as it is on disk now, so a human's edit made while its phase ran is
 * kept; an item.md that a human left invalid is not touched at all.
 */
export async function applyTransition(
  opts: ApplyOptions,
  item: Item,
  to: string | undefined,
  changes: ItemChanges,
  transition: Transition,
  leftBehind: string[] = [],
): Promise<Applied> {
  const { root } = opts;
  const fresh = await readItemFile(root, item.file, item.id);
  if ('problems' in fresh) {
    throw new TendError(
      `${item.file} cannot be updated: ${fresh.problems.map(formatProblem).join('; ')}`,
      'fix the file; tend leaves it as it is until then',
    );
  }
  const location = to ?? item.location;
  const dir = `${BACKLOG_DIR}/${location}/${item.id}`;
  const file = `${dir}/${ITEM_FILE}`;
  const moving = location !== item.location;
  // Where the item is and where it goes, checked before anything moves: nothing crosses a symlink.
  await refuseSymlinkedFolders(root, item.dir ?? path.dirname(item.file));
  if (moving) await refuseSymlinkedFolders(root, dir);
  if (moving && existsSync(path.join(root, dir)) && !(await isEmptyDir(path.join(root, dir)))) {
    throw new TendError(
      `cannot move ${item.id} to ${dir}: that folder already exists`,
      `two items share the id ${item.id}; rename one of the folders`,
    );
  }
  const parsed = updateItem(fresh.parsed, changes);
  const after = serializeItem(parsed);
  // Where the item goes, and below where it moves from. Literal paths: a pattern such as
  // backlog/*/<id>/** would make git walk every folder under backlog/, done/ included. A crash
  // between the move and the commit is finished from the journal record written first.
  const paths = [dir];
  const from = item.location === INBOX ? [item.file] : moving && item.dir ? [item.dir] : [];
  const sources = [...from, ...leftBehind];
  const message = commitMessage(transition);
  const pending = await record(root, {
    pid: process.pid,
    id: item.id,
    file,
    moved: moving,
    before: sha256(serializeItem(fresh.parsed)),
    after,
    paths,
    sources,
    message,
    author: opts.author,
  });
  let committed = false;
  let finished = false;
  try {
    if (moving) {
      await mkdir(path.join(root, BACKLOG_DIR, location), { recursive: true });
      if (item.location === INBOX) {
        // Intake: the inbox file itself becomes item.md, so it exists in exactly one place.
        await mkdir(path.join(root, dir), { recursive: true });
        await rename(path.join(root, item.file), path.join(root, file));
      } else if (item.dir) {
        // rename(2) replaces an empty folder, which is all an interrupted move can leave there.
        await rename(path.join(root, item.dir), path.join(root, dir));
      }
    }
    await writeFileAtomic(root, file, after);
    committed = await commitPaths(root, [...paths, ...sources], message, { author: opts.author, branch: opts.branch });
    finished = true;
  } finally {
    // A failure part-way keeps the record, so the transition is completed once git allows.
    await done(pending, finished);
  }
  const moved: Item = { ...item, location, dir, file, parsed, fields: parsed.fields };
  return { item: moved, committed };
}

async function isEmptyDir(dir: string): Promise<boolean> {
  return (await readdir(dir).catch(() => ['?'])).length === 0;
}
