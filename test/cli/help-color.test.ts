// Help, usage errors, and colour: plain text with NO_COLOR (and in these tests, always), colour
// only when asked for.
import { cp, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { item, runRepo } from '../helpers/engine.js';
import { git, scratchDir, scratchRepo, tend, tendOk, writeTree } from '../helpers/repo.js';
import { ANSI, copyRepo, outsideGitEnv, sharedRepo } from './support.js';

/** Every command `tend --help` lists; the first test fails when one is added and not listed here. */
const COMMANDS = [
  'init',
  'add',
  'status',
  'show',
  'log',
  'report',
  'doctor',
  'run',
  'approve',
  'reject',
  'retry',
  'redo',
  'pr',
  'sync',
  'board',
];

/** NO_COLOR wins over FORCE_COLOR, so with both set no output may carry an escape code. */
const NO_COLOR_DESPITE_FORCE = { NO_COLOR: '1', FORCE_COLOR: '1' };

describe('help and usage errors', () => {
  it('tend --help exits 0 and lists every command', async () => {
    const result = await tend(process.cwd(), ['--help']);
    expect(result.exitCode).toBe(0);
    expect(result.stderr).toBe('');
    const listed = [...result.stdout.matchAll(/^\s+tend (\S+)/gm)].map((m) => m[1]);
    expect(listed.sort()).toEqual([...COMMANDS].sort());
  });

  it.each(COMMANDS)(
    'tend %s --help exits 0 and describes the command, without colour under NO_COLOR',
    async (command) => {
      const result = await tend(process.cwd(), [command, '--help'], { env: NO_COLOR_DESPITE_FORCE });
      expect(result.exitCode, result.report).toBe(0);
      expect(result.stderr).toBe('');
      expect(result.stdout).toMatch(new RegExp(`^tend ${command}\\b`, 'm'));
      expect(result.stdout).not.toMatch(ANSI);
    },
  );

  it('an unknown command exits 2 with a message on stderr', async () => {
    const result = await tend(process.cwd(), ['frobnicate']);
    expect(result.exitCode).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr).toMatch(/frobnicate/);
    expect(result.stderr).toMatch(/tend --help/);
  });

  it('no command at all exits 2', async () => {
    const result = await tend(process.cwd(), []);
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toMatch(/name a command/);
  });

  it('an unknown option exits 2 without running the command', async () => {
    const dir = await scratchDir();
    const result = await tend(dir, ['status', '--frobnicate'], { env: outsideGitEnv(dir) });
    expect(result.stderr).toMatch(/frobnicate/);
    expect(result.stderr).not.toMatch(/not inside a git repository/);
    expect(result.exitCode).toBe(2);
  });
});

describe('colour', () => {
  const repo = sharedRepo(async (root) => {
    await tend(root, ['add', 'Coloured item', '-p', '1']);
    await writeTree(root, { 'backlog/broken.md': '---\npriority: high\n---\n' });
  });

  it('NO_COLOR: no escape codes anywhere', async () => {
    const runs = await Promise.all([
      tend(repo(), ['status']),
      tend(repo(), ['show', 'coloured-item']),
      tend(repo(), ['log']),
      tend(repo(), ['doctor']),
      tend(repo(), ['show', 'nope']),
      tend(repo(), ['--help']),
      tend(repo(), ['status'], { env: { NO_COLOR: '1', FORCE_COLOR: '1' } }),
    ]);
    for (const run of runs) {
      expect(run.stdout + run.stderr).not.toMatch(ANSI);
    }
    expect(runs[0]?.stdout).toMatch(/coloured-item/);
  });

  it('FORCE_COLOR=1 (without NO_COLOR) colours status, proving the switch works', async () => {
    const result = await tend(repo(), ['status'], { env: { NO_COLOR: '', FORCE_COLOR: '1' } });
    expect(result.exitCode).toBe(0);
    expect(result.stdout).toMatch(ANSI);
    expect(result.stdout).toContain('\x1b[1minbox (1)\x1b[22m');
    // The text under the colour is the same board.
    // eslint-disable-next-line no-control-regex
    const plain = result.stdout.replace(/\x1b\[[0-9;]*m/g, '');
    expect(plain).toMatch(/^ {2}coloured-item\s+p1\s+queued\s+att 0\s+\S+\s+\$0\.00\s+Coloured item$/m);
    expect(plain).toMatch(/invalid \(1\)/);
  });
});

describe('NO_COLOR, command by command', () => {
  const gated = '---\nphases:\n  - { name: triage, approve: true }\n  - { name: build }\n---\nApproved by a human.\n';
  const red = '---\nphases:\n  - { name: triage, gate: "exit 3" }\n---\nA gate that fails.\n';
  let ran = '';
  // A board with something for every command to act on: two items waiting for approval, one blocked.
  beforeAll(async () => {
    const made = await runRepo(
      'write-artifact.mjs',
      {
        'pipelines/gated.md': gated,
        'pipelines/red.md': red,
        'backlog/to-approve.md': item('To approve', 'pipeline: gated\n'),
        'backlog/to-reject.md': item('To reject', 'pipeline: gated\n'),
        'backlog/stuck.md': item('Stuck', 'pipeline: red\n'),
      },
      { retries: 0 },
    );
    await tendOk(made, ['run', '--once']);
    // Kept for the whole block: scratch folders go when the test that made them ends.
    ran = await mkdtemp(path.join(os.tmpdir(), 'tend-shared-'));
    await cp(made, ran, { recursive: true, verbatimSymlinks: true });
  });
  afterAll(async () => {
    if (ran) await rm(ran, { recursive: true, force: true });
  });

  // The exit code each is expected to end with (0 unless given): `tend pr` needs a done item, gh
  // and a remote (test/cli/pr.test.ts), so here it refuses, and its refusal is plain too.
  const runs: [string, string[], number?][] = [
    ['init', ['init']],
    ['add', ['add', 'Another item', '-p', '2']],
    ['status', ['status']],
    ['show', ['show', 'to-approve']],
    ['log', ['log']],
    ['report', ['report']],
    ['doctor', ['doctor']],
    ['run', ['run', '--once']],
    ['approve', ['approve', 'to-approve']],
    ['reject', ['reject', 'to-reject', '--reason', 'say more']],
    ['retry', ['retry', 'stuck']],
    ['redo', ['redo', 'to-approve', '--from', 'triage']],
    // board serves until it is interrupted: what it prints is checked in test/board/server.test.ts.
    ['board', ['board', '--help']],
    ['pr', ['pr', 'to-approve'], 1],
    // A bare repository made for the test (below) under the copy's ignored .tend/ is the remote.
    ['sync', ['sync', '.tend/remote.git']],
  ];

  it('covers every command', () => {
    expect(runs.map(([command]) => command).sort()).toEqual([...COMMANDS].sort());
  });

  it.each(runs)('tend %s ends as expected and prints no escape codes', async (command, args, exitCode = 0) => {
    const root = command === 'init' ? await scratchRepo() : await copyRepo(ran);
    if (command === 'sync') await git(root, 'init', '--quiet', '--bare', '.tend/remote.git');
    const result = await tend(root, args, { env: NO_COLOR_DESPITE_FORCE });
    expect(result.exitCode, result.report).toBe(exitCode);
    expect(result.stdout + result.stderr).not.toMatch(ANSI);
  });

  // The control for the test above: these commands do colour when asked, so their silence under
  // NO_COLOR is NO_COLOR's doing. (The others print only plain lines here; `run` has nothing to do.)
  it.each(runs.filter(([command]) => ['status', 'show', 'log', 'doctor'].includes(command)))(
    'tend %s colours its output with FORCE_COLOR and no NO_COLOR',
    async (_command, args) => {
      const result = await tend(await copyRepo(ran), args, { env: { NO_COLOR: '', FORCE_COLOR: '1' } });
      expect(result.exitCode, result.report).toBe(0);
      expect(result.stdout + result.stderr).toMatch(ANSI);
    },
  );
});
