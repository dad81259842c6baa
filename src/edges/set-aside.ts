// Setting aside work that may not be committed on the branch (an agent's, whose claim another
// clone took over while it ran): the files are kept in a commit beside the branch, under a ref of
// refs/tend/dropped/, and the checkout is put back as HEAD has them. Nothing is lost; nothing of it
// reaches the branch or the remote.
import { existsSync } from 'node:fs';
import { mkdtemp, rm, rmdir } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { authorEnv, gitOk, literal } from './git.js';
import { cleanMessage } from './tree-objects.js';
import { freeDroppedRef, keepRef } from './remote.js';

/**
 * Keep what differs from HEAD under `dir` (changed, added, deleted files) in a commit on top of
 * HEAD, pointed at by a free `refs/tend/dropped/<id>/<n>`, then put `dir` back as HEAD has it.
 * The commit is built in a scratch index: the person's index is not touched. The ref, or
 * undefined when nothing under `dir` differed.
 */
export async function setAside(
  root: string,
  id: string,
  dir: string,
  message: string,
  author?: string,
): Promise<string | undefined> {
  // Gone from the checkout and from HEAD (the other clone moved the item on): nothing was written.
  if (!existsSync(path.join(root, dir)) && (await filesInHead(root, dir)).size === 0) return undefined;
  const scratch = await mkdtemp(path.join(os.tmpdir(), 'tend-aside-'));
  try {
    const env = { ...authorEnv(author), GIT_INDEX_FILE: path.join(scratch, 'index') };
    await gitOk(root, ['read-tree', 'HEAD'], { env });
    await gitOk(root, ['add', '--all', '--', literal(dir)], { env });
    const changed = names(
      await gitOk(root, ['diff', '--cached', '--name-only', '-z', '--no-renames', 'HEAD'], { env }),
    );
    if (changed.length === 0) return undefined;
    const tree = (await gitOk(root, ['write-tree'], { env })).trim();
    const commit = await gitOk(root, ['commit-tree', tree, '-p', 'HEAD', '-F', '-'], {
      env,
      input: cleanMessage(message),
    });
    const ref = await freeDroppedRef(root, id);
    await keepRef(root, ref, commit.trim());
    await putBack(root, dir, changed);
    return ref;
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}

async function filesInHead(root: string, dir: string): Promise<Set<string>> {
  return new Set(names(await gitOk(root, ['ls-tree', '-r', '-z', '--name-only', 'HEAD', '--', literal(dir)])));
}

function names(out: string): string[] {
  return out.split('\0').filter(Boolean);
}

/** The `changed` files of `dir` as HEAD has them: restored, or removed where HEAD lacks them; the index left alone. */
async function putBack(root: string, dir: string, changed: string[]): Promise<void> {
  const inHead = await filesInHead(root, dir);
  const restore = changed.filter((f) => inHead.has(f));
  if (restore.length > 0) await gitOk(root, ['restore', '--source=HEAD', '--worktree', '--', ...restore.map(literal)]);
  await Promise.all(changed.filter((f) => !inHead.has(f)).map((f) => rm(path.join(root, f), { force: true })));
  // A folder HEAD no longer has (the other clone moved the item on), left empty: not an item.
  if (inHead.size === 0) await rmdir(path.join(root, dir)).catch(() => undefined);
}
