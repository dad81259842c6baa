// Processes in tests: a live `tend run` that never outlives its test, whether a process is still
// running, and bounded waits that say what they waited for (and what tend printed) when they fail.
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { afterEach } from 'vitest';
import { cleanEnv, TEND_BIN } from './repo.js';
import { markStoppedAfterTest, runEnding, runOf, trackTend } from './tend-runs.js';

const leftovers: ChildProcess[] = [];
/** The output of this test's latest live run, so a wait that times out can show it. */
let latestOutput: (() => string) | undefined;
afterEach(async () => {
  // SIGTERM first, so tend stops its agents (they run in their own process groups and would
  // outlive a SIGKILLed tend); SIGKILL whatever has not exited after a grace period.
  await Promise.all(leftovers.splice(0).map(stop));
  latestOutput = undefined;
});

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  markStoppedAfterTest(child);
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  const grace = new Promise((resolve) => setTimeout(resolve, 5000).unref());
  if ((await Promise.race([exited.then(() => 'exited'), grace])) !== 'exited') child.kill('SIGKILL');
}

/** SIGKILL `child` once the test ends, passed or failed: a hanging run must not stall the suite. */
export function killAfterTest(child: ChildProcess): void {
  leftovers.push(child);
}

/** Whether a process is still running; a zombie (dead, waiting to be reaped) is not. */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.[0] !== 'Z';
  } catch {
    return false;
  }
}

export interface LiveRun {
  child: ChildProcess;
  /** All it has printed so far, stdout and stderr interleaved as they came. */
  output: () => string;
  /** Its exit code, or -1 if a signal ended it. */
  exited: Promise<number>;
  /** How it ended (exit code or signal) and what it printed: a message for an assertion. */
  report: () => string;
}

/** `tend run ...args` in `root` (live mode unless `args` say --once), killed after the test. */
export function startLiveRun(root: string, options: { args?: string[]; env?: Record<string, string> } = {}): LiveRun {
  const args = ['run', ...(options.args ?? [])];
  const child = trackTend(
    spawn(process.execPath, [TEND_BIN, ...args], {
      cwd: root,
      env: cleanEnv(options.env),
      stdio: ['ignore', 'pipe', 'pipe'],
    }),
  );
  killAfterTest(child);
  let output = '';
  child.stdout.on('data', (c: Buffer) => (output += c.toString()));
  child.stderr.on('data', (c: Buffer) => (output += c.toString()));
  const exited = new Promise<number>((resolve) => child.on('exit', (code) => resolve(code ?? -1)));
  const report = () => `tend ${args.join(' ')}: ${runEnding(runOf(child))}\n${output}`;
  latestOutput = report;
  return { child, output: () => output, exited, report };
}

/** For a timed-out wait: how the test's live run is doing and what it printed, if it started one. */
function tendSaid(): string {
  return latestOutput ? `\n${latestOutput()}` : '';
}

/** Wait until `condition` holds, checking every 25 ms; fail after `timeoutMs`, naming `what`. */
export async function waitFor(
  condition: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs = 20_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${tendSaid()}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/**
 * Probe every 50 ms until `accept` takes the value, and return it; fail after `timeoutMs` with
 * the last value seen, so a near miss shows how near.
 */
export async function eventually<T>(
  probe: () => Promise<T> | T,
  accept: (v: T) => boolean,
  what: string,
  timeoutMs = 20_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (accept(value)) return value;
    if (Date.now() > deadline) {
      throw new Error(`timed out waiting for ${what}; last: ${JSON.stringify(value)}${tendSaid()}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}
