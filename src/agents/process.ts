// Running an agent CLI as a child process: its own process group, so a timeout, a stall or
// shutdown kills the whole tree (execa's own timeout leaves grandchildren running, PITFALLS.md);
// output teed to a size-capped log and a rolling tail; never a shell.
import { createWriteStream, existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { processIdentity } from '../pid.js';
import { execa } from 'execa';

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
export function agentEnv(req: { id: string; phase: string; artifactPath: string; promptFile: string; lens?: string }, extra: Record<string, string>): Record<string, string> {
  return { TEND_ITEM: req.id, TEND_PHASE: req.phase, TEND_ARTIFACT: req.artifactPath, TEND_PROMPT_FILE: req.promptFile, TEND_LENS: req.lens ?? '', ...extra };
}

export interface ProcessResult {
  exitCode: number | null;
  stopped?: 'timeout' | 'stall' | 'aborted';
  /** Error starting the program, if any. */
  spawnError?: string;
  /** The program is not there or not executable (ENOENT, EACCES): the agent is unavailable. */
  missingProgram?: boolean;
  stdout: string;
  tail: string;
  durationMs: number;
}

const KILL_GRACE_MS = 3000;
const TAIL_BYTES = 4000;
/** Stdout kept in memory for parsing a final JSON result; a transcript beyond this is logged only. */
const STDOUT_KEEP = 8 * 1024 * 1024;

function killGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // Already gone.
  }
}

export async function runProcess(req: ProcessRequest): Promise<ProcessResult> {
  await mkdir(path.dirname(req.logFile), { recursive: true });
  const log = createWriteStream(req.logFile);
  // A full disk must not take tend down: the agent runs on, its log is cut short.
  let logFailed = false;
  log.on('error', () => {
    logFailed = true;
  });
  let logged = 0;
  let tail = '';
  let stdout = '';
  let pending = '';
  const started = Date.now();
  log.write(`$ ${req.command} ${req.args.map((a) => (a.length > 80 ? `${JSON.stringify(a.slice(0, 77))}...` : JSON.stringify(a))).join(' ')}\n# cwd: ${req.cwd}\n`);

  if (!existsSync(req.cwd)) {
    log.end();
    const spawnError = `the working directory ${req.cwd} does not exist`;
    return { exitCode: null, spawnError, missingProgram: false, stdout: '', tail: spawnError, durationMs: 0 };
  }
  const child = execa(req.command, req.args, {
    cwd: req.cwd,
    env: req.env,
    extendEnv: true,
    detached: true,
    reject: false,
    buffer: false,
    stdin: req.input === undefined ? 'ignore' : 'pipe',
    stdout: 'pipe',
    stderr: 'pipe',
    windowsHide: true,
  });
  const pid = child.pid;
  if (req.pidFile && pid !== undefined) {
    await mkdir(path.dirname(req.pidFile), { recursive: true });
    await writeFile(req.pidFile, `${processIdentity(pid)}\n`);
  }
  let stopped: ProcessResult['stopped'];
  let lastOutput = Date.now();
  const stop = (why: NonNullable<ProcessResult['stopped']>) => {
    if (stopped || pid === undefined) return;
    stopped = why;
    killGroup(pid, 'SIGTERM');
    setTimeout(() => killGroup(pid, 'SIGKILL'), KILL_GRACE_MS).unref();
  };

  const record = (chunk: Buffer, isStdout: boolean) => {
    lastOutput = Date.now();
    const text = chunk.toString('utf8');
    if (!logFailed && logged < req.logMaxBytes) {
      const room = req.logMaxBytes - logged;
      log.write(chunk.length <= room ? chunk : chunk.subarray(0, room));
      logged += Math.min(chunk.length, room);
      if (logged >= req.logMaxBytes) log.write(`\n[tend: log cut at ${req.logMaxBytes} bytes (log_max_bytes)]\n`);
    }
    tail = (tail + text).slice(-TAIL_BYTES);
    if (isStdout) {
      if (stdout.length < STDOUT_KEEP) stdout += text;
      if (req.onLine) {
        pending += text;
        const lines = pending.split('\n');
        pending = lines.pop() ?? '';
        for (const line of lines) req.onLine(line);
      }
    }
  };
  child.stdout?.on('data', (c: Buffer) => record(c, true));
  child.stderr?.on('data', (c: Buffer) => record(c, false));
  if (req.input !== undefined) {
    child.stdin?.on('error', () => undefined); // an agent that exits without reading its stdin
    child.stdin?.end(req.input);
  }
  // The agent itself exiting ends the run: anything it left behind in its group goes too,
  // so a forgotten background process cannot hold the pipes open forever.
  child.on('exit', () => {
    if (pid !== undefined) killGroup(pid, 'SIGKILL');
  });

  const timer = setTimeout(() => stop('timeout'), req.timeoutMs);
  const stallCheck = setInterval(() => {
    if (Date.now() - lastOutput > req.stallTimeoutMs) stop('stall');
  }, Math.min(1000, Math.max(50, req.stallTimeoutMs / 4)));
  const onAbort = () => stop('aborted');
  if (req.signal.aborted) onAbort();
  else req.signal.addEventListener('abort', onAbort, { once: true });

  const result = await child;
  if (req.pidFile) await rm(req.pidFile, { force: true });
  clearTimeout(timer);
  clearInterval(stallCheck);
  req.signal.removeEventListener('abort', onAbort);
  if (pending && req.onLine) req.onLine(pending);
  const durationMs = Date.now() - started;
  const spawnError = result.exitCode === undefined && !stopped && result.failed ? result.shortMessage : undefined;
  const errno = (result as { code?: string }).code ?? (result.cause as NodeJS.ErrnoException | undefined)?.code;
  const missingProgram = spawnError !== undefined && (errno === 'ENOENT' || errno === 'EACCES' || /ENOENT|EACCES/.test(spawnError));
  log.write(`\n# exit: ${stopped ? `stopped (${stopped})` : (result.exitCode ?? result.signal ?? 'unknown')} after ${durationMs} ms\n`);
  if (spawnError) log.write(`# ${spawnError}\n`);
  if (!logFailed) await new Promise((resolve) => log.end(resolve));
  return {
    exitCode: stopped ? null : (result.exitCode ?? null),
    stopped,
    spawnError,
    missingProgram,
    stdout,
    tail: spawnError ? `${tail}\n${spawnError}`.trim() : tail,
    durationMs,
  };
}

/** Stop agents a dead run left running (recorded in `dir`). Returns how many were stopped. */
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
    const recorded = (await readFile(file, 'utf8')).trim();
    const pid = Number(recorded.split(' ')[0]);
    if (Number.isInteger(pid) && pid > 1 && recorded.includes(' ') && processIdentity(pid) === recorded) {
      try {
        process.kill(-pid, 'SIGKILL');
        stopped += 1;
      } catch {
        // Already gone.
      }
    }
    await rm(file, { force: true });
  }
  return stopped;
}

/** At once, without waiting: kill every recorded agent group (a second Ctrl-C). */
export function killRecordedAgentsSync(dir: string): void {
  let names: string[] = [];
  try {
    names = readdirSync(dir);
  } catch {
    return;
  }
  for (const name of names.filter((n) => n.endsWith('.pid'))) {
    const pid = Number(readFileSync(path.join(dir, name), 'utf8').trim().split(' ')[0]);
    if (Number.isInteger(pid) && pid > 1) {
      try {
        process.kill(-pid, 'SIGKILL');
      } catch {
        // Already gone.
      }
    }
  }
}
