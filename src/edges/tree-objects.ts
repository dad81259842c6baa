// git tree objects built in memory: the trees on the way to the paths a commit of tend's touches,
// read from HEAD, changed there, and written back, so a commit costs what it touches rather than
// what the repository holds (README, "Performance").
import { createHash } from 'node:crypto';
import { lstat, readdir } from 'node:fs/promises';
import path from 'node:path';

/** An entry tend does not change: a blob, a gitlink or a tree, as HEAD has it. */
export interface Leaf {
  mode: string;
  sha: string;
}

/** A folder being rebuilt: its entries by name. */
export interface Folder {
  entries: Map<string, Leaf | Folder>;
}

/** One tree to write, as `git mktree -z` takes it, and the id it must get. */
export interface TreeToWrite {
  sha: string;
  input: string;
}

/**
 * The files under `rel` on disk (`rel` itself when it is a file), [] when it is gone; undefined when
 * something there is not a plain file or folder (a symlink, an executable, a nested repository), which
 * only `git add` records as git would.
 */
export async function filesUnder(root: string, rel: string): Promise<string[] | undefined> {
  const stat = await lstat(path.join(root, rel)).catch(() => undefined);
  if (!stat) return [];
  if (stat.isFile()) return (stat.mode & 0o111) === 0 ? [rel] : undefined;
  if (!stat.isDirectory()) return undefined;
  const found: string[] = [];
  for (const entry of await readdir(path.join(root, rel), { withFileTypes: true })) {
    // A name that is not UTF-8 comes back with U+FFFD in it, a path nothing on disk has.
    if (entry.name === '.git' || entry.name.includes('\uFFFD')) return undefined;
    const below = await filesUnder(root, `${rel}/${entry.name}`);
    if (below === undefined) return undefined;
    found.push(...below);
  }
  return found;
}

/**
 * The entries of one raw tree object (`git cat-file --batch` output); ids `hashBytes` long.
 * Undefined when a name is not UTF-8: it could not be written back byte for byte.
 */
export function parseTree(raw: Buffer, hashBytes: number): Map<string, Leaf> | undefined {
  const entries = new Map<string, Leaf>();
  let at = 0;
  while (at < raw.length) {
    const space = raw.indexOf(0x20, at);
    const nul = raw.indexOf(0, space);
    const mode = raw.toString('latin1', at, space);
    const name = raw.toString('utf8', space + 1, nul);
    if (!Buffer.from(name, 'utf8').equals(raw.subarray(space + 1, nul))) return undefined;
    entries.set(name, { mode, sha: raw.toString('hex', nul + 1, nul + 1 + hashBytes) });
    at = nul + 1 + hashBytes;
  }
  return entries;
}

/**
 * `git cat-file --batch` output for several objects, in order: each one's content, or undefined
 * for one that is missing or no tree.
 */
export function splitBatch(out: Buffer, count: number): ({ sha: string; tree: Buffer } | undefined)[] {
  const objects: ({ sha: string; tree: Buffer } | undefined)[] = [];
  let at = 0;
  for (let i = 0; i < count; i++) {
    const eol = out.indexOf(0x0a, at);
    // "<id> <type> <size>" for an object; "<name> missing" for none, and a name may hold spaces.
    const header = /^([0-9a-f]{40,64}) ([a-z]+) (\d+)$/.exec(out.toString('utf8', at, eol));
    at = eol + 1;
    if (!header) {
      objects.push(undefined);
      continue;
    }
    const [, sha = '', type, size = '0'] = header;
    objects.push(type === 'tree' ? { sha, tree: out.subarray(at, at + Number(size)) } : undefined);
    at += Number(size) + 1;
  }
  return objects;
}

const isFolder = (node: Leaf | Folder): node is Folder => 'entries' in node;
const TREE_MODE = '40000';
const typeOf = (mode: string) => (mode === TREE_MODE ? 'tree' : mode === '160000' ? 'commit' : 'blob');

/**
 * The trees of `folder` and below, children first, as git would write them; the root's id, or
 * undefined when the folder holds nothing (git keeps no empty tree but the root's).
 */
export function treesOf(folder: Folder, algorithm: 'sha1' | 'sha256', out: TreeToWrite[]): string | undefined {
  const rows: { mode: string; name: string; sha: string }[] = [];
  for (const [name, node] of folder.entries) {
    if (!isFolder(node)) rows.push({ mode: node.mode, name, sha: node.sha });
    else {
      const sha = treesOf(node, algorithm, out);
      if (sha !== undefined) rows.push({ mode: TREE_MODE, name, sha });
    }
  }
  if (rows.length === 0) return undefined;
  // git orders a tree's entries by name, a tree's name compared as if it ended in '/'.
  const key = (row: { mode: string; name: string }) => Buffer.from(row.mode === TREE_MODE ? `${row.name}/` : row.name);
  rows.sort((a, b) => Buffer.compare(key(a), key(b)));
  const body = Buffer.concat(
    rows.flatMap((row) => [Buffer.from(`${row.mode} ${row.name}\0`), Buffer.from(row.sha, 'hex')]),
  );
  const sha = createHash(algorithm)
    .update(Buffer.concat([Buffer.from(`tree ${body.length}\0`), body]))
    .digest('hex');
  const input = rows.map((row) => `${row.mode} ${typeOf(row.mode)} ${row.sha}\t${row.name}\0`).join('');
  out.push({ sha, input });
  return sha;
}

/**
 * The folder at `rel` (''= the root) inside `root`, made where missing; a folder HEAD has is
 * filled from `listings` (the trees read from HEAD, by path) the first time it is reached.
 */
export function folderAt(root: Folder, rel: string, listings: Map<string, Map<string, Leaf>>): Folder {
  let folder = root;
  let at = '';
  for (const name of rel === '' ? [] : rel.split('/')) {
    at = at === '' ? name : `${at}/${name}`;
    const node = folder.entries.get(name);
    if (node && isFolder(node)) folder = node;
    else {
      const listed = node?.mode === TREE_MODE ? listings.get(at) : undefined;
      // A tree of HEAD's that was not read would be committed empty: never guess.
      if (node?.mode === TREE_MODE && !listed) throw new Error(`tree ${at} was not read from HEAD`);
      const next: Folder = { entries: new Map(listed ?? []) };
      folder.entries.set(name, next);
      folder = next;
    }
  }
  return folder;
}

/** The folders above `rel`, from the root down: '' and each parent. */
export function foldersAbove(rel: string): string[] {
  const parts = rel.split('/');
  return parts.map((_, i) => parts.slice(0, i).join('/'));
}

/**
 * git commit's default clean-up of a message given with -F: trailing spaces and blank lines at
 * either end go, runs of blank lines become one, and it ends in a newline.
 */
export function cleanMessage(message: string): string {
  const lines = message.split('\n').map((line) => line.trimEnd());
  const kept = lines.filter((line, i) => line !== '' || (i > 0 && lines[i - 1] !== ''));
  while (kept[0] === '') kept.shift();
  while (kept.at(-1) === '') kept.pop();
  return `${kept.join('\n')}\n`;
}
