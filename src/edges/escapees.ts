// Descendants of an agent (or a gate or hook) that left its process group (`setsid cmd &`,
// `set -m`, a daemon that double-forks): killing the group cannot reach them, and one that keeps
// the program's stdout open would hold the phase forever. Each program run gets a marker variable
// in its environment; every descendant inherits it, so after the program exits the marker in
// /proc/<pid>/environ names what it left behind. Linux only: elsewhere nothing is found.
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { processIdentity } from './pid.js';

/** Set in every agent's, gate's and hook's environment; its value is unique to one run. */
export const RUN_MARKER_VAR = 'TEND_PROCESS_RUN';

export interface LeftRunning {
  pid: number;
  /** Its command line, shortened. */
  command: string;
  /** Whether tend stopped it (false when it could not, e.g. it is gone or not ours). */
  stopped: boolean;
}

export function newRunMarker(): string {
  return `${process.pid}-${randomBytes(6).toString('hex')}`;
}

function readProc(pid: number, file: string): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/${file}`, 'utf8');
  } catch {
    return undefined;
  }
}

/** Process group id and state from /proc/<pid>/stat, after the command name in parentheses. */
function statOf(pid: number): { state: string; pgid: number } | undefined {
  const fields = readProc(pid, 'stat')?.split(') ')[1]?.split(' ');
  return fields ? { state: fields[0] ?? '', pgid: Number(fields[2]) } : undefined;
}

function carriesMarker(pid: number, marker: string): boolean {
  return (readProc(pid, 'environ') ?? '').split('\0').includes(`${RUN_MARKER_VAR}=${marker}`);
}

function commandOf(pid: number): string {
  const line = (readProc(pid, 'cmdline') ?? '').split('\0').filter(Boolean).join(' ');
  return line.length > 80 ? `${line.slice(0, 77)}...` : line || '?';
}

/** Live processes carrying `marker` outside process group `group` (the agent's own group is killed apart). */
export function findEscapees(marker: string, group: number): number[] {
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return [];
  }
  return entries
    .filter((name) => /^\d+$/.test(name))
    .map(Number)
    .filter((pid) => pid !== process.pid && carriesMarker(pid, marker))
    .filter((pid) => {
      const stat = statOf(pid);
      return stat !== undefined && stat.state !== 'Z' && stat.pgid !== group;
    });
}

/**
 * Stop what the run left outside its group. The marker is checked again, with the process's
 * start time, right before the kill: a pid reused by another process is never signalled.
 */
export function stopEscapees(marker: string, group: number): LeftRunning[] {
  return findEscapees(marker, group).map((pid) => {
    const identity = processIdentity(pid);
    const command = commandOf(pid);
    let stopped = false;
    if (carriesMarker(pid, marker) && processIdentity(pid) === identity) {
      try {
        process.kill(pid, 'SIGKILL');
        stopped = true;
      } catch {
        // Gone meanwhile, or not ours to signal.
      }
    }
    return { pid, command, stopped };
  });
}
