// Opening the repository a command works on: its root, its config and its backlog.
import { constants } from 'node:fs';
import { access, lstat } from 'node:fs/promises';
import path from 'node:path';
import { loadConfig } from './config-files.js';
import { phaseNames, type LoadedConfig } from '../core/config.js';
import { readBacklog, readDoneItems, type ReadOptions } from './store.js';
import { BACKLOG_DIR, type InvalidEntry, type Item, type Snapshot } from '../core/backlog.js';
import { checkAgainstConfig } from '../core/validate.js';
import { findRepoRoot } from './git.js';
import { TendError } from '../core/problem.js';
import { STATE_DIR } from './state-dir.js';

export interface Repo extends LoadedConfig {
  root: string;
  snapshot: Snapshot;
}

/** Roots found, by folder: a run reads the backlog again on every tick, from the same folder. */
const roots = new Map<string, string>();

export async function repoRoot(cwd: string): Promise<string> {
  const root = roots.get(cwd) ?? (await findRepoRoot(cwd));
  if (!root) throw new TendError(`${cwd} is not inside a git repository`, 'run `tend init` to set one up');
  roots.set(cwd, root);
  return root;
}

const CANNOT_WRITE: Record<string, string> = {
  EROFS: 'is on a read-only file system',
  EACCES: 'is not writable (permission denied)',
  EPERM: 'is not writable (operation not permitted)',
};

/**
 * The folders tend keeps its files in (`backlog/` and `.tend/` unless told otherwise) must be
 * folders, and, for a command that writes, writable: checked before anything is written, so a
 * command refuses with the folder's name rather than stopping half-way with a system error.
 */
export async function checkFolders(root: string, options: { writable: boolean; dirs?: string[] }): Promise<void> {
  for (const dir of options.dirs ?? [BACKLOG_DIR, STATE_DIR]) {
    const full = path.join(root, dir);
    const stat = await lstat(full).catch(() => undefined);
    if (!stat) continue;
    if (stat.isSymbolicLink()) {
      throw new TendError(
        `${dir}/ is a symlink; tend only works on a real ${dir}/ folder`,
        'replace the link with the folder itself',
      );
    }
    if (!stat.isDirectory()) {
      const fix = `rename or remove the file ${dir}, then run tend again`;
      throw new TendError(`${dir} is a file, not a folder, and tend needs the folder ${dir}/`, fix);
    }
    if (!options.writable) continue;
    const code = await access(full, constants.W_OK).then(
      () => undefined,
      (err: NodeJS.ErrnoException) => err.code ?? 'EACCES',
    );
    if (code !== undefined) {
      const fix = `make it writable (\`chmod u+w ${dir}\`, or mount it read-write), then run tend again`;
      throw new TendError(`${dir}/ ${CANNOT_WRITE[code] ?? `cannot be written (${code})`}, and tend writes there`, fix);
    }
  }
}

/** The repository: its configuration and its backlog, done/'s items by id unless `options` asks to read them. */
export async function openRepo(cwd: string, options: ReadOptions = {}): Promise<Repo> {
  const root = await repoRoot(cwd);
  await checkFolders(root, { writable: false });
  const loaded = await loadConfig(root);
  const snapshot = checkAgainstConfig(await readBacklog(root, phaseNames(loaded.config), options), loaded.config);
  return { root, snapshot, ...loaded };
}

/**
 * Item `id`, and the invalid entry that has its id: from the snapshot, or for a finished item
 * known by its id only, read from done/ now.
 */
export async function findById(repo: Repo, id: string): Promise<{ item?: Item; invalid?: InvalidEntry }> {
  const item = repo.snapshot.items.find((i) => i.id === id);
  const invalid = repo.snapshot.invalid.find((i) => i.id === id);
  if (item || invalid || !repo.snapshot.done.has(id)) return { item, invalid };
  const read = await readDoneItems(repo.root, [id]);
  return { item: read.items[0], invalid: read.invalid[0] };
}
