// One `tend run` per checkout: a lock file in .tend/ naming the holder. A lock left by a dead
// process (kill -9, a crash, a reboot) is taken over, with a message saying so.
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { TendError } from '../problem.js';

export const LOCK_FILE = path.join('.tend', 'run.lock');

interface LockInfo {
  pid: number;
  host: string;
  started: string;
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export interface RunLock {
  release(): Promise<void>;
  /** Set when a stale lock was taken over: who held it. */
  tookOver?: string;
}

export async function acquireRunLock(root: string): Promise<RunLock> {
  const file = path.join(root, LOCK_FILE);
  await mkdir(path.dirname(file), { recursive: true });
  const mine: LockInfo = { pid: process.pid, host: os.hostname(), started: new Date().toISOString() };
  let tookOver: string | undefined;
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      await writeFile(file, JSON.stringify(mine), { flag: 'wx' });
      return { tookOver, release: () => rm(file, { force: true }) };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    let holder: Partial<LockInfo> = {};
    try {
      holder = JSON.parse(await readFile(file, 'utf8')) as LockInfo;
    } catch {
      // Unreadable or half-written: its writer died before finishing, so it is stale.
    }
    const sameHost = holder.host === undefined || holder.host === os.hostname();
    if (holder.pid !== undefined && sameHost && isAlive(holder.pid)) {
      throw new TendError(`another tend run (pid ${holder.pid}, started ${holder.started}) is working in this checkout`, `stop it first, or wait for it to finish; the lock is ${LOCK_FILE}`);
    }
    if (!sameHost) {
      throw new TendError(`${LOCK_FILE} is held by a run on host ${holder.host} (pid ${holder.pid})`, `if that run is gone, delete ${LOCK_FILE}`);
    }
    tookOver = `pid ${holder.pid ?? '?'} (started ${holder.started ?? '?'})`;
    await rm(file, { force: true });
  }
  throw new TendError(`could not take the lock ${LOCK_FILE}`, 'another run keeps taking it; try again');
}
