// The files of an item the board serves: only the artifacts beside its item.md, by a plain file
// name, never through a symlink and never outside the item folder, whatever the URL asks for.
import { constants } from 'node:fs';
import { lstat, open } from 'node:fs/promises';
import path from 'node:path';
import type { Item } from '../core/backlog.js';

/** A file name of one part: no separator, no `..`, no leading dot (the URL is decoded by then). */
const SAFE_NAME = /^[A-Za-z0-9_][A-Za-z0-9._-]{0,200}$/;

/** What is served of one file; larger files are cut, with a note. */
export const MAX_FILE_BYTES = 1024 * 1024;

export class FileRefused extends Error {
  constructor(
    message: string,
    readonly status: 400 | 404,
  ) {
    super(message);
  }
}

export function checkFileName(name: string): void {
  if (!SAFE_NAME.test(name) || name.includes('..'))
    throw new FileRefused(`not a file name: ${JSON.stringify(name)}`, 400);
}

/**
 * The text of artifact `name` of `item`, read through no symlink: the name is one plain part,
 * listed among the item's artifacts, the folder and the file are checked with lstat, and the
 * file is opened with O_NOFOLLOW, so a link swapped in meanwhile is refused too.
 */
export async function readArtifact(root: string, item: Item, name: string): Promise<{ text: string; cut: boolean }> {
  checkFileName(name);
  if (!item.dir || !item.artifacts.includes(name)) throw new FileRefused(`${item.id} has no artifact ${name}`, 404);
  const dir = path.join(root, item.dir);
  const file = path.join(dir, name);
  if (path.dirname(file) !== dir) throw new FileRefused(`not a file name: ${JSON.stringify(name)}`, 400);
  const [dirStat, fileStat] = await Promise.all([
    lstat(dir).catch(() => undefined),
    lstat(file).catch(() => undefined),
  ]);
  if (!dirStat?.isDirectory() || !fileStat?.isFile()) throw new FileRefused(`${name} is not a plain file`, 404);
  const handle = await open(file, constants.O_RDONLY | constants.O_NOFOLLOW).catch(() => undefined);
  if (!handle) throw new FileRefused(`${name} cannot be read`, 404);
  try {
    const length = Math.min(fileStat.size, MAX_FILE_BYTES);
    const { buffer, bytesRead } = await handle.read(Buffer.alloc(length), 0, length, 0);
    return { text: buffer.subarray(0, bytesRead).toString('utf8'), cut: fileStat.size > MAX_FILE_BYTES };
  } finally {
    await handle.close();
  }
}
