// Every `tend` process a test starts is recorded, so that a failed test says how each one ended
// (exit code, signal, stderr, the end of stdout) and a CI failure can be read without a rerun.
// `tend()` and `startLiveRun()` record their runs; a test that spawns tend some other way (in a
// terminal, as another user, with its own timeout) passes the child to `trackTend`.
import type { ChildProcess } from 'node:child_process';
import type { Readable } from 'node:stream';
import { afterEach, beforeEach } from 'vitest';

export interface TendRun {
  /** tend's arguments, or the shell command that runs it. */
  args: string[];
  stdout: string;
  stderr: string;
  /** Undefined while it runs; null when a signal ended it. */
  exitCode?: number | null;
  signal?: string | null;
  timedOut?: boolean;
  /** It was still running when the test ended, and the cleanup stopped it. */
  stoppedAfterTest?: boolean;
}

/** Runs started by the current test; runs started in a beforeAll go to `setupRuns`. */
let testRuns: TendRun[] = [];
const setupRuns: TendRun[] = [];
let inTest = false;
const runsOfChildren = new WeakMap<object, TendRun>();

/** A child process as node:child_process or execa starts it. */
type Spawned = Pick<ChildProcess, 'spawnargs' | 'on'> & { stdout: Readable | null; stderr: Readable | null };

beforeEach(() => {
  inTest = true;
  testRuns = [];
});

// Registered before the other helpers' afterEach hooks (repo.ts imports this module first), so with
// vitest's default "stack" order it runs last: live runs have been stopped by then.
afterEach((context) => {
  inTest = false;
  const runs = [...setupRuns.filter(endedBadly), ...testRuns];
  testRuns = [];
  if (context.task.result?.state !== 'fail' || runs.length === 0) return;
  const error = new Error(describeRuns(runs));
  error.name = 'TendRuns';
  error.stack = `${error.name}: ${error.message}`; // where the report was built says nothing
  throw error;
});

/** A new record of `tend args`, listed in the current test's report (or the setup's). */
export function recordTendRun(args: string[]): TendRun {
  const run: TendRun = { args, stdout: '', stderr: '' };
  (inTest ? testRuns : setupRuns).push(run);
  return run;
}

/** Record a tend process started outside the helpers; returns `child` itself. */
export function trackTend<T extends Spawned>(child: T): T {
  const run = recordTendRun(tendArgs(child.spawnargs));
  runsOfChildren.set(child, run);
  child.stdout?.on('data', (chunk: Buffer) => (run.stdout += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (run.stderr += chunk.toString()));
  child.on('exit', (code, signal) => {
    run.exitCode = code;
    run.signal = signal;
  });
  return child;
}

/** The record of a child passed to `trackTend`. */
export function runOf(child: Spawned): TendRun {
  const run = runsOfChildren.get(child);
  if (!run) throw new Error('runOf: this child was not passed to trackTend');
  return run;
}

/** Note that the test's cleanup, not the test, is stopping this tracked child. */
export function markStoppedAfterTest(child: Spawned): void {
  const run = runsOfChildren.get(child);
  if (run && run.exitCode === undefined) run.stoppedAfterTest = true;
}

/** tend's own arguments from a command line that runs bin/tend.js directly or through a shell. */
function tendArgs(spawnargs: string[]): string[] {
  const at = spawnargs.findIndex((a) => a.includes('bin/tend.js'));
  if (at === -1) return spawnargs;
  const arg = spawnargs[at] ?? '';
  return arg.endsWith('tend.js') ? spawnargs.slice(at + 1) : [arg];
}

function endedBadly(run: TendRun): boolean {
  return run.exitCode !== undefined && (run.exitCode !== 0 || run.signal != null || run.timedOut === true);
}

/** How a run ended, in words: "exit 1", "killed by SIGSEGV", "timed out (killed by SIGTERM)". */
export function runEnding(run: TendRun): string {
  if (run.exitCode === undefined) return 'still running';
  const how = run.signal ? `killed by ${run.signal}` : `exit ${run.exitCode}`;
  if (run.stoppedAfterTest) return `still running when the test ended (stopped: ${how})`;
  return run.timedOut ? `timed out (${how})` : how;
}

const STDERR_LINES = 40;
const STDOUT_LINES = 20;

function tail(text: string, lines: number): string {
  const all = text.replace(/\n$/, '').split('\n');
  const kept = all.slice(-lines).map((l) => `    ${l}`);
  return (all.length > lines ? [`    [${all.length - lines} earlier lines]`, ...kept] : kept).join('\n');
}

/** One run: how it ended, then its stderr and the end of its stdout. */
export function describeRun(run: TendRun): string {
  const parts = [`tend ${run.args.join(' ')}: ${runEnding(run)}`];
  if (run.stderr.trim()) parts.push(`  stderr:\n${tail(run.stderr, STDERR_LINES)}`);
  if (run.stdout.trim()) parts.push(`  stdout (last ${STDOUT_LINES} lines):\n${tail(run.stdout, STDOUT_LINES)}`);
  if (!run.stderr.trim() && !run.stdout.trim()) parts.push('  (no output)');
  return parts.join('\n');
}

const LISTED = 12;

/** The runs of a failed test: every one that ended badly and the last one in full, the rest in a line. */
function describeRuns(runs: TendRun[]): string {
  const shown = runs.slice(-LISTED);
  const lines = shown.map((run, i) =>
    endedBadly(run) || run.exitCode === undefined || i === shown.length - 1
      ? describeRun(run)
      : `tend ${run.args.join(' ')}: ${runEnding(run)}`,
  );
  const earlier = runs.length > LISTED ? [`(${runs.length - LISTED} earlier runs not shown)`] : [];
  return ['the tend runs of this failed test, in the order they started:', ...earlier, ...lines].join('\n');
}
