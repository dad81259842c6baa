// Whether a process id is in use, and which process it names.
import { readFileSync } from 'node:fs';

/** Whether `pid` is in use; by which process, this cannot tell (see processIdentity). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it exists, under another user.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * "pid boot-id start-time": enough to tell, after a crash or a reboot, whether a pid still
 * names the same process or has been reused by someone else's. Linux only (/proc); elsewhere
 * just the pid, and callers fall back to weaker checks.
 */
export function processIdentity(pid: number): string {
  try {
    const boot = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
    return `${pid} ${boot} ${fields[19] ?? ''}`;
  } catch {
    return String(pid);
  }
}
