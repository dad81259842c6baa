// Which inbox files some process still has open for writing. A person typing into
// `cat > backlog/x.md`, a shell redirect between two commands or a slow editor leaves the file
// complete-looking for seconds at a time; taking it in then would lose what comes after, since
// intake rewrites the file as a new one and later writes would go to the old, unlinked one.
// Linux tells us exactly who holds what: /proc/<pid>/fd/<n> links to the open file and
// /proc/<pid>/fdinfo/<n> gives its access mode. The scan is done only when the inbox holds
// files, once for all of them. Elsewhere (no /proc) this finds nothing, and intake relies on the
// watcher waiting until a file has stopped changing.
import { readdirSync, readFileSync, readlinkSync, realpathSync } from 'node:fs';
import path from 'node:path';

const PROC = '/proc';
/** O_ACCMODE bits of an fdinfo `flags:` value: 1 = O_WRONLY, 2 = O_RDWR. */
const ACCESS_MODE = 0o3;

/**
 * The subset of `files` (repository-relative) that a process has open for writing. Synchronous on
 * purpose: these are in-memory kernel tables, and a few hundred small synchronous reads take a
 * few milliseconds where the same reads through the thread pool take ten times as long.
 */
export function filesOpenForWriting(root: string, files: readonly string[]): Set<string> {
  const found = new Set<string>();
  if (files.length === 0 || process.platform !== 'linux') return found;
  const realRoot = attempt(() => realpathSync(root), root);
  const wanted = new Map(files.map((rel) => [path.join(realRoot, rel), rel]));
  for (const pid of attempt(() => readdirSync(PROC), [])) {
    if (!/^\d+$/.test(pid)) continue;
    const fdDir = path.join(PROC, pid, 'fd');
    // Another user's process, or one that is gone: nothing of ours to see.
    for (const fd of attempt(() => readdirSync(fdDir), [])) {
      const rel = wanted.get(attempt(() => readlinkSync(path.join(fdDir, fd)), ''));
      if (rel !== undefined && openForWriting(pid, fd)) found.add(rel);
    }
  }
  return found;
}

function openForWriting(pid: string, fd: string): boolean {
  const info = attempt(() => readFileSync(path.join(PROC, pid, 'fdinfo', fd), 'utf8'), '');
  const flags = /^flags:\s*([0-7]+)/m.exec(info)?.[1];
  // No flags: the descriptor was closed meanwhile, so it is not held open any more.
  return flags !== undefined && (parseInt(flags, 8) & ACCESS_MODE) !== 0;
}

/** `read()`, or `fallback` when it throws (a process exits or closes a file while we look). */
function attempt<T>(read: () => T, fallback: T): T {
  try {
    return read();
  } catch {
    return fallback;
  }
}
