// A write-ahead record of the transition being carried out. A transition is several steps on
// disk (move the folder, rewrite item.md, commit); a run killed between them leaves the item
// whole but uncommitted, and without this record the next run could only guess, and would log
// tend's own move as "moved by hand". With it, the next run finishes the commit it started,
// under its own message.
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { commitPaths, git, literal } from '../git.js';
import { updateItem } from '../item.js';
import { STATE_DIR } from '../state-dir.js';
import { readItemFile, writeItemFile } from './store.js';

const JOURNAL_DIR = path.join(STATE_DIR, 'journal');

export interface PendingTransition {
  /** The process carrying it out: a live one is still at it and is left alone. */
  pid: number;
  id: string;
  /** item.md where the transition puts it. */
  file: string;
  /** Keys to set, and keys to remove (JSON has no `undefined`). */
  set: Record<string, unknown>;
  unset: string[];
  /** Pathspecs the commit covers. */
  paths: string[];
  message: string;
  author?: string;
}

export function pendingFor(id: string, file: string, changes: Record<string, unknown>, paths: string[], message: string, author: string | undefined): PendingTransition {
  const set: Record<string, unknown> = {};
  const unset: string[] = [];
  for (const [key, value] of Object.entries(changes)) {
    if (value === undefined) unset.push(key);
    else set[key] = value;
  }
  return { pid: process.pid, id, file, set, unset, paths, message, author };
}

/** Record `entry` before the first step on disk; returns the record's path, for `clear`. */
export async function record(root: string, entry: PendingTransition): Promise<string> {
  const dir = path.join(root, JOURNAL_DIR);
  await mkdir(dir, { recursive: true });
  const file = path.join(dir, `${entry.id}.${entry.pid}.json`);
  const tmp = `${file}.tmp`;
  await writeFile(tmp, JSON.stringify(entry));
  await rename(tmp, file);
  return file;
}

export async function clear(file: string): Promise<void> {
  await rm(file, { force: true });
}

/** A transition takes well under this; an older record's pid has been reused by another process. */
const STALE_MS = 10 * 60_000;

function alive(pid: number, recordedMs: number): boolean {
  if (pid === process.pid || Date.now() - recordedMs > STALE_MS) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Finish the transitions a killed process left half done: where the item already sits where
 * the transition put it and is not yet committed, apply its changes (again: they are
 * idempotent) and commit under the transition's own message. Returns the subjects committed.
 */
export async function finishPending(root: string, branch: string | undefined): Promise<string[]> {
  const dir = path.join(root, JOURNAL_DIR);
  const names = await readdir(dir).catch(() => [] as string[]);
  const finished: string[] = [];
  for (const name of names.filter((n) => n.endsWith('.json')).sort()) {
    const file = path.join(dir, name);
    const entry = await readFile(file, 'utf8').then((t) => JSON.parse(t) as PendingTransition).catch(() => undefined);
    const recordedMs = (await stat(file).catch(() => undefined))?.mtimeMs ?? 0;
    if (entry && alive(entry.pid, recordedMs)) continue;
    if (entry && (await finishOne(root, entry, branch))) finished.push(entry.message.split('\n')[0] ?? '');
    await clear(file);
  }
  return finished;
}

async function finishOne(root: string, entry: PendingTransition, branch: string | undefined): Promise<boolean> {
  // Not moved yet: the transition never happened, and the item is as it was before it.
  if (!existsSync(path.join(root, entry.file))) return false;
  const status = await git(root, ['--no-optional-locks', 'status', '--porcelain', '--untracked-files=all', '--', ...entry.paths.map(literal)]);
  if (status.exitCode !== 0 || status.stdout.trim() === '') return false; // committed already
  const fresh = await readItemFile(root, entry.file, entry.id);
  if ('problems' in fresh) return false; // left for the hand-change scan, which reports it
  const changes: Record<string, unknown> = { ...entry.set };
  for (const key of entry.unset) changes[key] = undefined;
  await writeItemFile(root, entry.file, updateItem(fresh.parsed, changes));
  return commitPaths(root, entry.paths, entry.message, { author: entry.author, branch });
}
