// Scratch git repositories and the real `tend` binary, for tests that assert what a user sees.
import { mkdtemp, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { afterEach } from 'vitest';
import { describeRun, recordTendRun } from './tend-runs.js';

export const PACKAGE_ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const TEND_BIN = path.join(PACKAGE_ROOT, 'bin', 'tend.js');

/** A fixed identity and no user or system git config, so tests behave the same everywhere. */
export const GIT_ENV: Record<string, string> = {
  GIT_AUTHOR_NAME: 'Test User',
  GIT_AUTHOR_EMAIL: 'test@example.com',
  GIT_COMMITTER_NAME: 'Test User',
  GIT_COMMITTER_EMAIL: 'test@example.com',
  GIT_CONFIG_GLOBAL: '/dev/null',
  GIT_CONFIG_NOSYSTEM: '1',
  NO_COLOR: '1',
};

/**
 * The environment for child processes: this one without git's and tend's own variables, so a
 * test run from a git hook (GIT_DIR, GIT_INDEX_FILE ...) or with FORCE_COLOR set behaves the same.
 */
export function cleanEnv(extra: Record<string, string> = {}): Record<string, string> {
  const kept = Object.entries(process.env).filter(
    ([k, v]) => v !== undefined && !/^(GIT_|TEND_|FAKE_)/.test(k) && !['FORCE_COLOR', 'NO_COLOR', 'CI'].includes(k),
  );
  return { ...(Object.fromEntries(kept) as Record<string, string>), ...GIT_ENV, ...extra };
}

const cleanups: string[] = [];
afterEach(async () => {
  for (const dir of cleanups.splice(0)) await rm(dir, { recursive: true, force: true });
});

/** An empty scratch folder, removed after the test. */
export async function scratchDir(): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'tend-test-'));
  cleanups.push(dir);
  return dir;
}

export async function git(cwd: string, ...args: string[]): Promise<string> {
  const result = await execa('git', args, { cwd, env: cleanEnv(), extendEnv: false });
  return result.stdout;
}

/** Write a tree of files (path -> text or bytes) under `root`. */
export async function writeTree(root: string, files: Record<string, string | Buffer>): Promise<void> {
  for (const [rel, content] of Object.entries(files)) {
    await mkdir(path.dirname(path.join(root, rel)), { recursive: true });
    await writeFile(path.join(root, rel), content);
  }
}

/** A git repository on branch main holding `files` in one commit (none if empty). */
export async function scratchRepo(files: Record<string, string | Buffer> = {}): Promise<string> {
  const root = await scratchDir();
  await git(root, 'init', '--quiet', '--initial-branch=main');
  await git(root, 'config', 'commit.gpgsign', 'false');
  await git(root, 'config', 'gc.auto', '0');
  await writeTree(root, files);
  if (Object.keys(files).length > 0) {
    await git(root, 'add', '--all');
    await git(root, 'commit', '--quiet', '-m', 'initial');
  }
  return root;
}

/** A repository set up by the real `tend init`. */
export async function initializedRepo(files: Record<string, string | Buffer> = {}): Promise<string> {
  const root = await scratchRepo();
  await tendOk(root, ['init']);
  await writeTree(root, files);
  return root;
}

export interface TendResult {
  stdout: string;
  stderr: string;
  /** -1 when a signal ended it (then `tend()` throws instead of returning). */
  exitCode: number;
  /** How it ended, with its stderr and the end of its stdout: a message for an assertion. */
  report: string;
}

/**
 * Run the real `tend` binary in `cwd`. The run is recorded, so a failing test lists how it
 * ended; a run killed by a signal (a crash, the kernel's OOM killer) throws at once, since no
 * test expects that.
 */
export async function tend(
  cwd: string,
  args: string[],
  options: { input?: string; env?: Record<string, string> } = {},
): Promise<TendResult> {
  const run = recordTendRun(args);
  const result = await execa(process.execPath, [TEND_BIN, ...args], {
    cwd,
    env: cleanEnv(options.env),
    extendEnv: false,
    input: options.input ?? '',
    reject: false,
  });
  Object.assign(run, {
    stdout: String(result.stdout),
    stderr: String(result.stderr),
    exitCode: result.exitCode ?? null,
    signal: result.signal ?? null,
  });
  if (result.signal) throw new Error(`tend ended unexpectedly: ${describeRun(run)}`);
  const exitCode = result.exitCode ?? -1;
  return { stdout: run.stdout, stderr: run.stderr, exitCode, report: describeRun(run) };
}

/** `tend args`, which must exit 0; otherwise throws with how it ended and what it printed. */
export async function tendOk(cwd: string, args: string[]): Promise<TendResult> {
  const result = await tend(cwd, args);
  if (result.exitCode !== 0) throw new Error(`expected exit 0 from ${result.report}`);
  return result;
}

export async function tendJson<T = Record<string, unknown>>(cwd: string, args: string[]): Promise<T> {
  const result = await tendOk(cwd, [...args, '--json']);
  try {
    return JSON.parse(result.stdout) as T;
  } catch (err) {
    throw new Error(`tend printed no JSON (${String(err)}): ${result.report}`, { cause: err });
  }
}

export function read(root: string, rel: string): Promise<string> {
  return readFile(path.join(root, rel), 'utf8');
}

export async function commitCount(root: string): Promise<number> {
  return Number((await git(root, 'rev-list', '--count', 'HEAD')).trim());
}
