// Shared pieces of `npm run bench`: scratch repositories of a given size, timing of whole
// commands (wall time, and CPU and peak memory through GNU time when the machine has it).
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const TEND = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'bin', 'tend.js');
export const ENV = {
  ...process.env,
  GIT_AUTHOR_NAME: 'bench',
  GIT_AUTHOR_EMAIL: 'bench@tend.invalid',
  GIT_COMMITTER_NAME: 'bench',
  GIT_COMMITTER_EMAIL: 'bench@tend.invalid',
  GIT_CONFIG_GLOBAL: '/dev/null',
  NO_COLOR: '1',
};
const GNU_TIME = existsSync('/usr/bin/time') ? '/usr/bin/time' : undefined;

export const itemText = (i, pipeline = 'quick-fix') =>
  `---\ntitle: Item ${i}\npriority: ${(i % 5) + 1}\npipeline: ${pipeline}\n---\nSome text for item ${i}.\n`;

export function sh(root, cmd, ...args) {
  return execFileSync(cmd, args, {
    cwd: root,
    env: ENV,
    stdio: ['ignore', 'pipe', 'pipe'],
    maxBuffer: 64 << 20,
  }).toString();
}

/** A repository after `tend init`, holding `finished` items in backlog/done/, all committed. */
export function tendRepo(finished) {
  const root = mkdtempSync(path.join(os.tmpdir(), 'tend-bench-'));
  sh(root, 'git', 'init', '--quiet', '--initial-branch=main');
  sh(root, 'node', TEND, 'init');
  for (let i = 0; i < finished; i++) {
    const dir = path.join(root, 'backlog', 'done', `old-${i}`);
    mkdirSync(dir, { recursive: true });
    writeFileSync(path.join(dir, 'item.md'), itemText(i));
    writeFileSync(path.join(dir, 'review.md'), `---\nverdict: approve\n---\n# review of ${i}\n`);
  }
  sh(root, 'git', 'add', '--all');
  // No automatic gc in the background after this big commit: it would hold gc's lock against the one below.
  sh(root, 'git', '-c', 'gc.auto=0', 'commit', '--quiet', '--allow-empty', '-m', `${finished} finished items`);
  // Packed, as a repository that grew over a year is: thousands of loose objects would make
  // every raw commit in the baseline start git's automatic gc.
  sh(root, 'git', 'gc', '--quiet');
  return root;
}

export function removeRepo(root) {
  rmSync(root, { recursive: true, force: true });
}

export function median(values) {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

export function percentile(values, p) {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
}

/**
 * Run a command to completion: wall ms, and (with GNU time) user and system CPU seconds and
 * peak resident memory in MiB. Throws with the command's stderr when it fails.
 */
export function timed(cwd, cmd, args, env = ENV) {
  const stats = path.join(os.tmpdir(), `tend-bench-time-${process.pid}`);
  const argv = GNU_TIME ? [GNU_TIME, '-o', stats, '-f', '%U %S %M', cmd, ...args] : [cmd, ...args];
  const started = process.hrtime.bigint();
  const result = spawnSync(argv[0], argv.slice(1), {
    cwd,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
    maxBuffer: 256 << 20,
  });
  const wallMs = Number(process.hrtime.bigint() - started) / 1e6;
  if (result.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${result.status}: ${result.stderr}`);
  const out = { wallMs, stdout: result.stdout.toString() };
  if (!GNU_TIME) return out;
  const [user, sys, rssKb] = readFileSync(stats, 'utf8').trim().split('\n').pop().split(' ').map(Number);
  return { ...out, userS: user, sysS: sys, rssMiB: rssKb / 1024 };
}

/** The median run of `times` runs of `fn` (by wall time); each returns what `timed` does. */
export function medianRun(times, fn) {
  const runs = Array.from({ length: times }, fn).sort((a, b) => a.wallMs - b.wallMs);
  return runs[Math.floor(runs.length / 2)];
}

/** Raw `git add` + `git commit` of one new file in `root`: what any tool pays to record a change. */
export function rawCommitMs(root, count) {
  const times = [];
  for (let i = 0; i < count; i++) {
    const file = path.join('backlog', `raw-${i}.md`);
    const started = process.hrtime.bigint();
    writeFileSync(path.join(root, file), itemText(i));
    sh(root, 'git', 'add', '--', file);
    sh(root, 'git', 'commit', '--quiet', '-m', `raw ${i}`, '--', file);
    times.push(Number(process.hrtime.bigint() - started) / 1e6);
  }
  // Leave the repository as it was, so the next measurement sees the same backlog.
  sh(
    root,
    'git',
    'rm',
    '--quiet',
    '-r',
    '--',
    ...Array.from({ length: count }, (_, i) => path.join('backlog', `raw-${i}.md`)),
  );
  sh(root, 'git', 'commit', '--quiet', '-m', 'raw done');
  return median(times);
}

export const hasGnuTime = Boolean(GNU_TIME);
