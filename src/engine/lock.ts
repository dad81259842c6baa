// One `tend run` per checkout: a lock file in .tend/ naming the holder. A lock left by a dead
// process (kill -9, a crash, a reboot) is taken over, with a message saying so.
import { link, mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { isAlive } from '../pid.js';
import { TendError } from '../problem.js';
import { STATE_DIR } from '../state-dir.js';

export const LOCK_FILE = path.join(STATE_DIR, 'run.lock');

export interface LockInfo {
  pid: number;
  host: string;
  started: string;
}

export interface RunLock {
  release(): Promise<void>;
  /** Set when a stale lock was taken over: who held it. */
  tookOver?: string;
}

/**
 * Take the lock: written in full to a temporary file, then linked into place (atomic: another
 * run sees no lock or a whole one). A stale lock is renamed away, which only one of two racing
 * runs can do, before trying again.
 */
export async function acquireRunLock(root: string): Promise<RunLock> {
  const file = path.join(root, LOCK_FILE);
  await mkdir(path.dirname(file), { recursive: true });
  const mine: LockInfo = { pid: process.pid, host: os.hostname(), started: new Date().toISOString() };
  const tmp = `${file}.${process.pid}.tmp`;
  await writeFile(tmp, JSON.stringify(mine));
  let tookOver: string | undefined;
  try {
    for (let attempt = 0; attempt < 5; attempt++) {
      try {
        await link(tmp, file);
        return { tookOver, release: () => releaseLock(file) };
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      }
      let holder: Partial<LockInfo> = {};
      try {
        holder = JSON.parse(await readFile(file, 'utf8')) as LockInfo;
      } catch {
        // Unreadable: left by a tend that wrote locks differently, or gone meanwhile. Stale.
      }
      const sameHost = holder.host === undefined || holder.host === os.hostname();
      if (holder.pid !== undefined && sameHost && isAlive(holder.pid)) {
        throw new TendError(`another tend run (pid ${holder.pid}, started ${holder.started}) is working in this checkout`, `stop it first, or wait for it to finish; the lock is ${LOCK_FILE}`);
      }
      if (!sameHost) {
        throw new TendError(`${LOCK_FILE} is held by a run on host ${holder.host} (pid ${holder.pid})`, `if that run is gone, delete ${LOCK_FILE}`);
      }
      try {
        await rename(file, `${file}.stale.${process.pid}`);
        await rm(`${file}.stale.${process.pid}`, { force: true });
        tookOver = `pid ${holder.pid ?? '?'} (started ${holder.started ?? '?'})`;
      } catch {
        // Another run renamed it first; try again and see whose lock is there now.
      }
    }
    throw new TendError(`could not take the lock ${LOCK_FILE}`, 'another run keeps taking it; try again');
  } finally {
    await rm(tmp, { force: true });
  }
}

/**
 * The run working in this checkout, from its lock: undefined when there is none or its process
 * is gone. A lock from another host cannot be checked and is taken at its word.
 */
export async function runHolder(root: string): Promise<LockInfo | undefined> {
  try {
    const holder = JSON.parse(await readFile(path.join(root, LOCK_FILE), 'utf8')) as LockInfo;
    if (typeof holder.pid !== 'number') return undefined;
    return holder.host !== os.hostname() || isAlive(holder.pid) ? holder : undefined;
  } catch {
    return undefined;
  }
}

/** Remove the lock only if it is still ours. */
async function releaseLock(file: string): Promise<void> {
  try {
    const holder = JSON.parse(await readFile(file, 'utf8')) as Partial<LockInfo>;
    if (holder.pid === process.pid && holder.host === os.hostname()) await rm(file, { force: true });
  } catch {
    // Already gone.
  }
}
