// Help, usage errors, and colour: plain text with NO_COLOR (and in these tests, always), colour
// only when asked for.
import { describe, expect, it } from 'vitest';
import { scratchDir, tend, writeTree } from '../helpers/repo.js';
import { ANSI, outsideGitEnv, sharedRepo } from './support.js';

const COMMANDS = ['init', 'add', 'status', 'show', 'doctor'];

describe('help and usage errors', () => {
  it('tend --help exits 0 and lists every command', async () => {
    const result = await tend(process.cwd(), ['--help']);
    expect(result.exitCode).toBe(0);
    expect(result.stderr).toBe('');
    for (const command of COMMANDS) expect(result.stdout).toMatch(new RegExp(`^\\s+tend ${command}\\b`, 'm'));
  });

  it.each(COMMANDS)('tend %s --help exits 0 and describes the command', async (command) => {
    const result = await tend(process.cwd(), [command, '--help']);
    expect(result.exitCode).toBe(0);
    expect(result.stderr).toBe('');
    expect(result.stdout).toMatch(new RegExp(`^tend ${command}\\b`, 'm'));
  });

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
