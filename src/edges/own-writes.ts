// What this process itself just wrote under backlog/, so that a watching run is not woken by its
// own transitions: each one woke it for a second pass and a look for changes by hand that could
// find nothing (tend commits what it writes), and at 10,000 finished items that look is a git
// status of a few hundred milliseconds in front of the next inbox file. A file event is tend's
// own only while the path is still as tend left it (the same text, the same file moved, gone); a
// person's edit after tend's write makes it differ, so it wakes the run as before.
import { lstatSync, readFileSync, readdirSync, type Stats } from 'node:fs';
import path from 'node:path';

/** How a path looks right after tend's write. */
export type OwnState =
  | { kind: 'absent' }
  | { kind: 'dir' }
  | { kind: 'text'; text: string }
  | { kind: 'moved'; ino: number; size: number; mtimeMs: number };

/** Long enough for the watcher's settling delay on a loaded machine; an event later than this wakes the run. */
const KEEP_MS = 30_000;

const expected = new Map<string, { state: OwnState; at: number }>();

const key = (root: string, rel: string) => `${root}\0${rel.split(path.sep).join('/')}`;

/** Record how `rel` (repository-relative) looks after the write tend is about to make. */
export function expectOwnWrite(root: string, rel: string, state: OwnState): void {
  const now = Date.now();
  for (const [k, v] of expected) if (now - v.at > KEEP_MS) expected.delete(k);
  expected.set(key(root, rel), { state, at: now });
}

/**
 * The files under folder `rel` as they are now, each expected at the same place below `to` after
 * a rename of the folder (rename keeps a file's inode, size and modification time).
 */
export function expectFolderMove(root: string, rel: string, to: string): void {
  for (const entry of readdirSync(path.join(root, rel), { withFileTypes: true, recursive: true })) {
    const abs = path.join(entry.parentPath, entry.name);
    const stat = lstatOrUndefined(abs);
    const inside = path.relative(path.join(root, rel), abs);
    if (stat?.isDirectory()) expectOwnWrite(root, path.join(to, inside), { kind: 'dir' });
    else if (stat) {
      const { ino, size, mtimeMs } = stat;
      expectOwnWrite(root, path.join(to, inside), { kind: 'moved', ino, size, mtimeMs });
    }
  }
}

function lstatOrUndefined(abs: string): Stats | undefined {
  try {
    return lstatSync(abs);
  } catch {
    return undefined;
  }
}

/** The record for `rel`, or for a folder above it that tend removed, with its key. */
function expectationOf(root: string, rel: string): { k: string; state: OwnState } | undefined {
  const exact = expected.get(key(root, rel));
  if (exact) return Date.now() - exact.at > KEEP_MS ? undefined : { k: key(root, rel), state: exact.state };
  const parts = rel.split(/[\\/]/);
  for (let n = parts.length - 1; n > 0; n--) {
    const k = key(root, parts.slice(0, n).join('/'));
    const above = expected.get(k);
    if (above && Date.now() - above.at <= KEEP_MS)
      return above.state.kind === 'absent' ? { k, state: above.state } : undefined;
  }
  return undefined;
}

function isAsExpected(abs: string, state: OwnState): boolean {
  const stat = lstatOrUndefined(abs);
  if (state.kind === 'absent') return stat === undefined;
  if (state.kind === 'dir') return stat?.isDirectory() === true;
  if (!stat?.isFile()) return false;
  if (state.kind === 'moved') {
    return stat.ino === state.ino && stat.size === state.size && stat.mtimeMs === state.mtimeMs;
  }
  try {
    return readFileSync(abs, 'utf8') === state.text;
  } catch {
    return false;
  }
}

/**
 * Whether `rel` is now exactly as tend's own recent write left it (so its file event is tend's).
 * Once a person has changed it, the record is dropped: an edit (or undo) by hand that puts back
 * the very text tend wrote differs from what was committed since, and must wake the run.
 */
export function isOwnWrite(root: string, rel: string): boolean {
  const found = expectationOf(root, rel);
  if (!found) return false;
  if (isAsExpected(path.join(root, rel), found.state)) return true;
  expected.delete(found.k);
  return false;
}
