// One `tend run` per checkout. On Linux the guarantee is a Unix socket bound in the abstract
// namespace, named after the checkout's git directory: the kernel holds it for the process's
// lifetime, no file deletion can remove it (deleting .tend/ while a run is live must not let a
// second run in), and it vanishes when the process dies, kill -9 included. A second run connects
// to it to learn who holds it. The lock file in .tend/ names the holder for people and is the
// lock itself elsewhere; a lock file left by a dead process is taken over, with a message.
import { createHash } from 'node:crypto';
import { realpathSync } from 'node:fs';
import { link, mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { absoluteGitDir } from './git.js';
import { isAlive } from './pid.js';
import { TendError } from '../core/problem.js';
import { STATE_DIR } from './state-dir.js';

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
 * Take the run lock: the checkout's socket (Linux), then the lock file. Refused, with a TendError
 * naming the holder, when another live run holds either.
 */
export async function acquireRunLock(root: string): Promise<RunLock> {
  const mine: LockInfo = { pid: process.pid, host: os.hostname(), started: new Date().toISOString() };
  const socket = await bindRunSocket(root, mine);
  try {
    const fileLock = await acquireLockFile(root, mine);
    return { tookOver: fileLock.tookOver, release: () => fileLock.release().finally(() => socket?.close()) };
  } catch (err) {
    socket?.close();
    throw err;
  }
}

/**
 * The lock file: written in full to a temporary file, then linked into place (atomic: another
 * run sees no lock or a whole one). A stale lock is renamed away, which only one of two racing
 * runs can do, before trying again.
 */
async function acquireLockFile(root: string, mine: LockInfo): Promise<RunLock> {
  const file = path.join(root, LOCK_FILE);
  await mkdir(path.dirname(file), { recursive: true });
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
        throw new TendError(
          `another tend run (pid ${holder.pid}, started ${holder.started}) is working in this checkout`,
          `stop it first, or wait for it to finish; the lock is ${LOCK_FILE}`,
        );
      }
      if (!sameHost) {
        throw new TendError(
          `${LOCK_FILE} is held by a run on host ${holder.host} (pid ${holder.pid})`,
          `if that run is gone, delete ${LOCK_FILE}`,
        );
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
  const name = await socketName(root);
  if (name) {
    const bound = await askHolder(name);
    if (bound) return bound;
  }
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

/** The abstract socket's name for this checkout (Linux only): one per real git directory. */
async function socketName(root: string): Promise<string | undefined> {
  if (process.platform !== 'linux') return undefined;
  let dir = await absoluteGitDir(root);
  if (dir === undefined) return undefined;
  try {
    dir = realpathSync(dir);
  } catch {
    // Keep the name git gave.
  }
  return `\0tend-run-${createHash('sha256').update(dir).digest('hex').slice(0, 32)}`;
}

/**
 * Bind this checkout's socket, answering each connection with who holds it. Refused (a
 * TendError naming the holder) when another live process holds it. Undefined off Linux.
 */
async function bindRunSocket(root: string, mine: LockInfo): Promise<net.Server | undefined> {
  const name = await socketName(root);
  if (!name) return undefined;
  const server = net.createServer((conn) => conn.end(JSON.stringify(mine)));
  const bound = await new Promise<boolean>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => (err.code === 'EADDRINUSE' ? resolve(false) : reject(err)));
    server.listen({ path: name }, () => resolve(true));
  }).catch(() => undefined);
  // The socket must not keep the process alive; it goes with the process, however it ends.
  server.unref();
  if (bound === true) return server;
  if (bound === undefined) return undefined; // no abstract sockets here: the lock file alone
  const holder = await askHolder(name);
  const who = holder?.pid ? `pid ${holder.pid}, started ${holder.started}` : 'it did not say who it is';
  throw new TendError(
    `another tend run (${who}) is working in this checkout`,
    'stop it first, or wait for it to finish',
  );
}

/** Who holds the socket `name`, or undefined when nobody does (or the holder does not answer). */
function askHolder(name: string): Promise<LockInfo | undefined> {
  return new Promise((resolve) => {
    let text = '';
    const conn = net.connect({ path: name });
    const give = (info: LockInfo | undefined) => {
      clearTimeout(timer);
      conn.destroy();
      resolve(info);
    };
    // A holder that is alive but busy answers within a moment; one that never does still holds it.
    const timer = setTimeout(() => give({ pid: 0, host: os.hostname(), started: '?' }), 5000);
    conn.on('data', (chunk: Buffer) => (text += chunk.toString()));
    conn.on('end', () => {
      try {
        give(JSON.parse(text) as LockInfo);
      } catch {
        give({ pid: 0, host: os.hostname(), started: '?' });
      }
    });
    conn.on('error', () => give(undefined));
  });
}
