// The child-process runner for agents, gates and hooks: each program runs in its own process
// group, so a timeout, a stall or shutdown kills the whole tree (a timeout that kills only the
// program leaves its children running), and what it moved out of the group is stopped too
// (escapees.ts); output is teed to a size-capped log and a rolling tail. The program is spawned
// as given, never through a shell: hooks and string gates ask for `sh -c` themselves.
import { type ChildProcess, spawn } from 'node:child_process';
import { createWriteStream, existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { processIdentity } from './pid.js';
import { type LeftRunning, newRunMarker, RUN_MARKER_VAR, stopEscapees } from './escapees.js';

export interface ProcessRequest {
  command: string;
  args: string[];
  cwd: string;
  env?: Record<string, string>;
  /** Written to stdin, which is then closed; without it stdin is /dev/null. */
  input?: string;
  timeoutMs: number;
  stallTimeoutMs: number;
  logFile: string;
  logMaxBytes: number;
  signal: AbortSignal;
  /**
   * Records the agent's process group while it runs, so a run that restarts after kill -9 can
   * stop an agent the dead run left behind (it is in its own group and outlives tend).
   */
  pidFile?: string;
  /** Called with each complete stdout line (for agents that stream JSON events). */
  onLine?: (line: string) => void;
}

/** Environment every agent process gets, so wrappers and scripts know what they are doing. */
export function agentEnv(
  req: { id: string; phase: string; artifactPath: string; promptFile: string; lens?: string },
  extra: Record<string, string>,
): Record<string, string> {
  return {
    TEND_ITEM: req.id,
    TEND_PHASE: req.phase,
    TEND_ARTIFACT: req.artifactPath,
    TEND_PROMPT_FILE: req.promptFile,
    TEND_LENS: req.lens ?? '',
    ...extra,
  };
}

export interface ProcessResult {
  exitCode: number | null;
  /** The signal that ended the program when tend did not stop it (it crashed, or something killed it). */
  killedBy?: NodeJS.Signals;
  stopped?: 'timeout' | 'stall' | 'aborted';
  /** Error starting the program, if any. */
  spawnError?: string;
  /** The program is not there or not executable (ENOENT, EACCES): the agent is unavailable. */
  missingProgram?: boolean;
  stdout: string;
  tail: string;
  durationMs: number;
  /** Descendants found outside the process group once it ended (see escapees.ts). */
  leftRunning: LeftRunning[];
}

const KILL_GRACE_MS = 3000;
/**
 * How long, once the program has exited, its output pipes may stay open. Everything it printed
 * is already in them; only a descendant tend could not stop still holds them after this.
 */
const DRAIN_MS = 2000;
const TAIL_BYTES = 4000;
/** Stdout kept in memory for parsing a final JSON result; a transcript beyond this is logged only. */
const STDOUT_KEEP = 8 * 1024 * 1024;
/** setTimeout and setInterval fire at once past this; limits are checked by a ticker instead. */
const MAX_TICK_MS = 1000;

function killGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // Already gone.
  }
}

function quoteArgs(args: string[]): string {
  return args.map((a) => (a.length > 80 ? `${JSON.stringify(a.slice(0, 77))}...` : JSON.stringify(a))).join(' ');
}

/** The log file, cut at `maxBytes`; a full disk cuts it short but never takes tend down. */
function openLog(file: string, maxBytes: number) {
  const stream = createWriteStream(file);
  let failed = false;
  let logged = 0;
  stream.on('error', () => {
    failed = true;
  });
  return {
    line: (text: string) => {
      if (!failed) stream.write(text);
    },
    output(chunk: Buffer) {
      if (failed || logged >= maxBytes) return;
      const room = maxBytes - logged;
      stream.write(chunk.length <= room ? chunk : chunk.subarray(0, room));
      logged += Math.min(chunk.length, room);
      if (logged >= maxBytes) stream.write(`\n[tend: log cut at ${maxBytes} bytes (log_max_bytes)]\n`);
    },
    close: () => (failed ? Promise.resolve() : new Promise<void>((resolve) => stream.end(resolve))),
  };
}

/** Longer stdout lines are not passed to `onLine` (activity events are a few hundred bytes). */
const MAX_LINE_CHARS = 1024 * 1024;

/**
 * Cuts a stream of text into lines for `onLine`, holding at most `maxChars` of an unfinished
 * line: a line longer than that is dropped, all of it, even one that never ends.
 */
export function boundedLines(onLine: (line: string) => void, maxChars = MAX_LINE_CHARS) {
  let pending = '';
  let overlong = false;
  return {
    push(text: string) {
      const lines = (pending + text).split('\n');
      pending = lines.pop() ?? '';
      if (overlong && lines.length > 0) {
        lines.shift(); // the end of a line that was too long
        overlong = false;
      }
      for (const line of lines) if (line.length <= maxChars) onLine(line);
      // A line that never ends is dropped as it grows, not held: it is in the log all the same.
      if (pending.length > maxChars) {
        pending = '';
        overlong = true;
      }
    },
    /** At the end of the output: the last line, if it had no newline. */
    flush() {
      if (pending && !overlong) onLine(pending);
      pending = '';
    },
  };
}

/** What the program printed: the log, the rolling tail, stdout kept for parsing, stdout lines. */
function outputRecorder(log: ReturnType<typeof openLog>, onLine?: (line: string) => void) {
  const out = { tail: '', stdout: '', lastOutput: Date.now() };
  const lines = onLine ? boundedLines(onLine) : undefined;
  const record = (chunk: Buffer, isStdout: boolean) => {
    out.lastOutput = Date.now();
    log.output(chunk);
    const text = chunk.toString('utf8');
    out.tail = (out.tail + text).slice(-TAIL_BYTES);
    if (!isStdout) return;
    if (out.stdout.length < STDOUT_KEEP) out.stdout += text;
    lines?.push(text);
  };
  return { out, record, flush: () => lines?.flush() };
}

function startChild(req: ProcessRequest, marker: string): ChildProcess | string {
  try {
    return spawn(req.command, req.args, {
      cwd: req.cwd,
      env: { ...process.env, ...req.env, [RUN_MARKER_VAR]: marker },
      detached: true,
      stdio: [req.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
      windowsHide: true,
    });
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  }
}

type Ending = { code: number | null; signal: NodeJS.Signals | null; error?: NodeJS.ErrnoException };

/** Resolves when the program has exited (or could not start). */
function exited(child: ChildProcess): Promise<Ending> {
  return new Promise((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal }));
    // tend never signals through `child`, so an error means the program could not be started.
    child.once('error', (error: NodeJS.ErrnoException) => resolve({ code: null, signal: null, error }));
  });
}

/** Both output pipes at their end, or cut after DRAIN_MS when something else still holds them. */
async function drained(child: ChildProcess): Promise<void> {
  const streams = [child.stdout, child.stderr].filter((s) => s !== null);
  const ends = streams.map((s) =>
    s.readableEnded || s.destroyed
      ? Promise.resolve()
      : new Promise<void>((resolve) => s.once('close', () => resolve())),
  );
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([Promise.all(ends), new Promise<void>((resolve) => (timer = setTimeout(resolve, DRAIN_MS)))]);
  clearTimeout(timer);
  for (const s of streams) s.destroy();
}

/** Stops the group at a timeout, a stall or an abort: SIGTERM, then SIGKILL. A limit of 0 is no limit. */
function watchLimits(req: ProcessRequest, pid: number, lastOutput: () => number) {
  let stopped: ProcessResult['stopped'];
  let grace: NodeJS.Timeout | undefined;
  const started = Date.now();
  const stop = (why: NonNullable<ProcessResult['stopped']>) => {
    if (stopped) return;
    stopped = why;
    killGroup(pid, 'SIGTERM');
    grace = setTimeout(() => killGroup(pid, 'SIGKILL'), KILL_GRACE_MS);
  };
  const limits = [req.timeoutMs, req.stallTimeoutMs].filter((ms) => ms > 0);
  const ticker =
    limits.length === 0
      ? undefined
      : setInterval(
          () => {
            const now = Date.now();
            if (req.timeoutMs > 0 && now - started >= req.timeoutMs) stop('timeout');
            else if (req.stallTimeoutMs > 0 && now - lastOutput() >= req.stallTimeoutMs) stop('stall');
          },
          Math.min(MAX_TICK_MS, Math.max(50, Math.min(...limits) / 4)),
        );
  const onAbort = () => stop('aborted');
  if (req.signal.aborted) onAbort();
  else req.signal.addEventListener('abort', onAbort, { once: true });
  return {
    stopped: () => stopped,
    /** Once the program has exited: its pid may name another process from now on. */
    dispose() {
      clearInterval(ticker);
      clearTimeout(grace);
      req.signal.removeEventListener('abort', onAbort);
    },
  };
}

/** A program that could not be started: the reason is logged and is the whole result. */
async function notStarted(
  log: ReturnType<typeof openLog>,
  started: number,
  spawnError: string,
  missingProgram: boolean,
): Promise<ProcessResult> {
  log.line(`# ${spawnError}\n`);
  await log.close();
  const durationMs = Date.now() - started;
  return { exitCode: null, spawnError, missingProgram, stdout: '', tail: spawnError, durationMs, leftRunning: [] };
}

/**
 * Spawns the program with its output recorded and its stdin written. Listeners go on before
 * anything is awaited: output printed at once must not be lost. A string says why spawn threw.
 */
function launch(req: ProcessRequest, log: ReturnType<typeof openLog>) {
  const marker = newRunMarker();
  const child = startChild(req, marker);
  if (typeof child === 'string') return child;
  const recorder = outputRecorder(log, req.onLine);
  child.stdout?.on('data', (c: Buffer) => recorder.record(c, true));
  child.stderr?.on('data', (c: Buffer) => recorder.record(c, false));
  // A read error on a pipe must not take tend down; the stream closes and the run goes on.
  for (const stream of [child.stdout, child.stderr]) stream?.on('error', () => undefined);
  const ended = exited(child);
  if (req.input !== undefined) {
    child.stdin?.on('error', () => undefined); // an agent that exits without reading its stdin
    child.stdin?.end(req.input);
  }
  return { child, marker, recorder, ended };
}

async function recordPid(req: ProcessRequest, pid: number, marker: string): Promise<void> {
  if (!req.pidFile) return;
  await mkdir(path.dirname(req.pidFile), { recursive: true });
  await writeFile(req.pidFile, `${processIdentity(pid)}\n${marker}\n`);
}

/**
 * The program exiting ends the run: what it left in its group goes, and so does what it moved
 * out of the group, so nothing holds the pipes or outlives the phase. Returns what was found
 * outside the group.
 */
async function stopWhatRemains(child: ChildProcess, pid: number, marker: string): Promise<LeftRunning[]> {
  killGroup(pid, 'SIGKILL');
  const leftRunning = stopEscapees(marker, pid);
  await drained(child);
  return leftRunning;
}

/** The end of the log (what was left running, how the program ended) and the result. */
async function finish(
  log: ReturnType<typeof openLog>,
  started: number,
  out: { stdout: string; tail: string },
  ending: Ending,
  stopped: ProcessResult['stopped'],
  leftRunning: LeftRunning[],
): Promise<ProcessResult> {
  const durationMs = Date.now() - started;
  for (const p of leftRunning) {
    log.line(`\n# left running: process ${p.pid} (${p.command}); ${p.stopped ? 'stopped' : 'could not stop it'}`);
  }
  const how = stopped ? `stopped (${stopped})` : (ending.code ?? ending.signal ?? 'unknown');
  log.line(`\n# exit: ${how} after ${durationMs} ms\n`);
  await log.close();
  const exitCode = stopped ? null : ending.code;
  const killedBy = stopped ? undefined : (ending.signal ?? undefined);
  return { exitCode, killedBy, stopped, stdout: out.stdout, tail: out.tail, durationMs, leftRunning };
}

/** Runs one program to its end (or its limit) and says how it ended; never throws for the program's sake. */
export async function runProcess(req: ProcessRequest): Promise<ProcessResult> {
  await mkdir(path.dirname(req.logFile), { recursive: true });
  const log = openLog(req.logFile, req.logMaxBytes);
  const started = Date.now();
  log.line(`$ ${req.command} ${quoteArgs(req.args)}\n# cwd: ${req.cwd}\n`);
  if (!existsSync(req.cwd)) return notStarted(log, started, `the working directory ${req.cwd} does not exist`, false);
  const run = launch(req, log);
  if (typeof run === 'string') return notStarted(log, started, run, false);
  const pid = run.child.pid;
  if (pid === undefined) {
    const { error } = await run.ended;
    const missing = error?.code === 'ENOENT' || error?.code === 'EACCES';
    return notStarted(log, started, error?.message ?? 'the program could not be started', missing);
  }
  await recordPid(req, pid, run.marker);
  const limits = watchLimits(req, pid, () => run.recorder.out.lastOutput);
  const ending = await run.ended;
  limits.dispose();
  const leftRunning = await stopWhatRemains(run.child, pid, run.marker);
  if (req.pidFile) await rm(req.pidFile, { force: true });
  run.recorder.flush();
  return finish(log, started, run.recorder.out, ending, limits.stopped(), leftRunning);
}

/** A pid file: the agent's identity (processIdentity) on the first line, its run marker on the second. */
function readPidFile(text: string): { pid: number; identity: string; marker?: string } {
  const [identity = '', marker] = text.trim().split('\n');
  return { pid: Number(identity.split(' ')[0]), identity, marker: marker?.trim() || undefined };
}

/**
 * Stop agents a dead run left running (recorded in `dir`): the group while its leader is the
 * recorded process, and anything carrying the run's marker, in the group or out of it. Returns
 * how many agents had something stopped.
 */
export async function stopOrphanedAgents(dir: string): Promise<number> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return 0;
  }
  let stopped = 0;
  for (const name of names.filter((n) => n.endsWith('.pid'))) {
    const file = path.join(dir, name);
    const { pid, identity, marker } = readPidFile(await readFile(file, 'utf8'));
    let any = false;
    if (Number.isInteger(pid) && pid > 1 && identity.includes(' ') && processIdentity(pid) === identity) {
      try {
        process.kill(-pid, 'SIGKILL');
        any = true;
      } catch {
        // Already gone.
      }
    }
    // No process group is -1: every live process carrying the marker is the dead run's.
    if (marker && stopEscapees(marker, -1).some((p) => p.stopped)) any = true;
    if (any) stopped += 1;
    await rm(file, { force: true });
  }
  return stopped;
}

/** At once, without waiting: kill every recorded agent group and what it moved out of it (a second Ctrl-C). */
export function killRecordedAgentsSync(dir: string): void {
  let names: string[] = [];
  try {
    names = readdirSync(dir);
  } catch {
    return;
  }
  for (const name of names.filter((n) => n.endsWith('.pid'))) {
    const { pid, marker } = readPidFile(readFileSync(path.join(dir, name), 'utf8'));
    if (Number.isInteger(pid) && pid > 1) {
      try {
        process.kill(-pid, 'SIGKILL');
      } catch {
        // Already gone.
      }
    }
    if (marker) stopEscapees(marker, -1);
  }
}
