// Agents that fail in every way an agent CLI fails, with the real binary and fake agents.
import { existsSync, readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { FIXTURES, item, itemField, runRepo, tendSubjects } from '../helpers/engine.js';
import { pathWithOnlyGit } from '../cli/support.js';
import { git, read, scratchDir, tend, writeTree } from '../helpers/repo.js';

const quickFix = (title: string) => item(title, 'pipeline: quick-fix\n');

/** Whether a process is still running; a zombie (dead, waiting to be reaped by init) is not. */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    return readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.[0] !== 'Z';
  } catch {
    return true;
  }
}

describe('failing agents', () => {
  it('an agent that exits non-zero is retried, then blocked with the reason and the log tail', async () => {
    const root = await runRepo('exit-nonzero.mjs', { 'backlog/broken.md': quickFix('Broken') });
    const result = await tend(root, ['run', '--once']);
    expect(result.exitCode).toBe(0);
    expect(result.stdout).toMatch(/blocked \(see `tend show <id>`\): broken/);
    const text = await read(root, 'backlog/blocked/broken/item.md');
    expect(text).toMatch(
      /^blocked_reason: ".*triage failed 2 times; last: the agent exited with code 3.*fatal: the fake agent could not finish/m,
    );
    expect(text).toMatch(/^blocked_phase: triage$/m);
    expect(await tendSubjects(root)).toEqual([
      'tend: broken inbox -> triage',
      'tend: broken triage started (attempt 1)',
      expect.stringMatching(/^tend: broken triage failed \(attempt 1 of 2\), retry in/),
      'tend: broken triage started (attempt 2)',
      'tend: broken triage -> blocked (failed 2 times)',
    ]);
    const log = await readFile(path.join(root, '.tend/logs/broken/triage.2.log'), 'utf8');
    expect(log).toContain('fatal: the fake agent could not finish');

    // `tend retry` puts it back where it was blocked, attempts reset.
    const retry = await tend(root, ['retry', 'broken']);
    expect(retry.exitCode).toBe(0);
    expect(await itemField(root, 'backlog/triage/broken/item.md', 'attempts')).toBe('0');
    expect(await itemField(root, 'backlog/triage/broken/item.md', 'blocked_reason')).toBeUndefined();
  });

  it('an agent that exits 0 without writing its artifact fails the attempt', async () => {
    const root = await runRepo('write-nothing.mjs', { 'backlog/lazy.md': quickFix('Lazy') });
    await tend(root, ['run', '--once']);
    expect(await itemField(root, 'backlog/blocked/lazy/item.md', 'blocked_reason')).toMatch(
      /exited 0 but did not write backlog\/triage\/lazy\/triage\.md/,
    );
  });

  it('a hung agent and the grandchild it spawned are both killed at the timeout', async () => {
    const dir = await scratchDir();
    const pidFile = path.join(dir, 'pids');
    const root = await runRepo(
      'grandchild-hang.mjs',
      { 'backlog/stuck.md': quickFix('Stuck') },
      { retries: 0, timeout: '1s' },
    );
    const started = Date.now();
    const result = await tend(root, ['run', '--once'], { env: { FAKE_PID_FILE: pidFile } });
    expect(Date.now() - started).toBeLessThan(15_000);
    expect(result.exitCode).toBe(0);
    const pids = (await readFile(pidFile, 'utf8')).trim().split('\n').map(Number);
    expect(pids).toHaveLength(2);
    for (const pid of pids) expect(alive(pid)).toBe(false);
    expect(await itemField(root, 'backlog/blocked/stuck/item.md', 'blocked_reason')).toMatch(
      /ran past the phase timeout/,
    );
  });

  it('an agent that exits but leaves a grandchild holding its output does not hang the run', async () => {
    const dir = await scratchDir();
    const pidFile = path.join(dir, 'pids');
    const root = await runRepo('grandchild-hang.mjs', { 'backlog/leaky.md': quickFix('Leaky') }, { retries: 0 });
    const result = await tend(root, ['run', '--once'], { env: { FAKE_PID_FILE: pidFile, FAKE_EXIT_EARLY: '1' } });
    expect(result.exitCode).toBe(0);
    const [, grandchild] = (await readFile(pidFile, 'utf8')).trim().split('\n').map(Number);
    expect(alive(grandchild ?? 0)).toBe(false);
  });

  it('an agent CLI that is not installed stops the run with exit 1 and burns no attempt', async () => {
    const root = await runRepo('write-artifact.mjs', { 'backlog/x.md': quickFix('X') });
    const result = await tend(root, ['run', '--once', '--agent', 'claude'], { env: { PATH: await pathWithOnlyGit() } });
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toMatch(/agent claude could not start/);
    expect(await itemField(root, 'backlog/triage/x/item.md', 'status')).toBe('queued');
    expect(await itemField(root, 'backlog/triage/x/item.md', 'attempts')).toBe('0');
  });
});

describe('an agent that deletes what is not its own', () => {
  it("gets other items' deleted files put back, with a warning, and nothing is committed as removed", async () => {
    const root = await runRepo('delete-other.mjs', {
      'backlog/victim.md': item('Victim', 'pipeline: quick-fix\npriority: 1\n'),
    });
    expect((await tend(root, ['run', '--once'])).exitCode).toBe(0);
    await writeTree(root, { 'backlog/vandal.md': item('Vandal', 'pipeline: coding\n') });
    const result = await tend(root, ['run', '--once'], { env: { FAKE_VICTIM: 'backlog/done/victim' } });
    expect(result.exitCode).toBe(0);
    expect(result.stderr).toMatch(
      /vandal: the triage agent deleted \d+ file\(s\) of other items \(backlog\/done\/victim\/.*restored from git/,
    );
    expect(await read(root, 'backlog/done/victim/item.md')).toContain('title: Victim');
    expect((await tendSubjects(root)).filter((s) => s.includes('removed'))).toEqual([]);
    expect(await git(root, 'status', '--porcelain', '--', 'backlog')).toBe('');
  });
});

describe('the claude adapter (a stand-in claude on PATH)', () => {
  const env = (extra: Record<string, string> = {}) => ({
    PATH: `${path.join(FIXTURES, 'bin')}:${process.env.PATH}`,
    ...extra,
  });

  it('adds the reported cost to the item and to the commit trailers', async () => {
    const dir = await scratchDir();
    const argsLog = path.join(dir, 'args');
    const root = await runRepo('write-artifact.mjs', { 'backlog/costly.md': quickFix('Costly') }, { model: 'sonnet' });
    const result = await tend(root, ['run', '--once', '--agent', 'claude'], {
      env: env({ FAKE_CLAUDE_ARGS: argsLog }),
    });
    expect(result.stderr).toBe('');
    expect(result.exitCode).toBe(0);
    // triage + build + 2 review lenses, $0.25 each.
    expect(await itemField(root, 'backlog/done/costly/item.md', 'cost_usd')).toBe('1');
    const trailers = await git(root, 'log', '-1', '--format=%(trailers:only,unfold)', '--grep=costly triage -> build');
    expect(trailers).toContain('Tend-Agent: claude (sonnet)');
    expect(trailers).toContain('Tend-Cost-USD: 0.25');
    expect(trailers).toContain('Tend-Tokens: 1050 in, 200 out');
    const args = (await readFile(argsLog, 'utf8'))
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as string[]);
    expect(args[0]).toEqual(['-p', '--output-format', 'stream-json', '--verbose', '--model', 'sonnet']);
  });

  it('a usage limit parks the item until the reset without burning attempts', async () => {
    const root = await runRepo('write-artifact.mjs', { 'backlog/limited.md': quickFix('Limited') });
    const next5pm = (at: Date) => {
      const d = new Date(at);
      d.setHours(17, 0, 0, 0);
      if (d.getTime() <= at.getTime()) d.setDate(d.getDate() + 1);
      return d.getTime();
    };
    const before = next5pm(new Date());
    const result = await tend(root, ['run', '--once', '--agent', 'claude'], { env: env({ FAKE_CLAUDE: 'limit' }) });
    const after = next5pm(new Date());
    expect(result.exitCode).toBe(0);
    expect(result.stdout).toMatch(/parked until a usage limit resets: limited/);
    const file = 'backlog/triage/limited/item.md';
    expect(await itemField(root, file, 'attempts')).toBe('0');
    expect(await itemField(root, file, 'status')).toBe('queued');
    const resumeAt = Date.parse((await itemField(root, file, 'resume_at')) ?? '');
    expect([before, after]).toContain(resumeAt); // the next 17:00, even if the run straddled it
    expect((await tendSubjects(root)).at(-1)).toMatch(/^tend: limited triage parked until .* \(usage limit\)$/);
  });
});

describe('the codex and opencode adapters (stand-ins on PATH)', () => {
  const env = (argsLog: string) => ({ PATH: `${path.join(FIXTURES, 'bin')}:${process.env.PATH}`, FAKE_ARGS: argsLog });

  it('codex: `codex exec --json --sandbox workspace-write --model M -`, prompt on stdin, tokens in the trailers', async () => {
    const argsLog = path.join(await scratchDir(), 'args');
    // A 200 KiB body: as one argument it would be over Linux's 128 KiB cap and fail to start.
    const root = await runRepo(
      'write-artifact.mjs',
      { 'backlog/cx.md': quickFix('Cx') + 'A long report. '.repeat(14_000) },
      { model: 'gpt-test' },
    );
    const result = await tend(root, ['run', '--once', '--agent', 'codex'], { env: env(argsLog) });
    expect(result.exitCode).toBe(0);
    expect(existsSync(path.join(root, 'backlog/done/cx/review.md'))).toBe(true);
    const first = JSON.parse((await readFile(argsLog, 'utf8')).split('\n')[0] ?? '') as string[];
    expect(first).toEqual(['exec', '--json', '--sandbox', 'workspace-write', '--model', 'gpt-test', '-']);
    const trailers = await git(root, 'log', '-1', '--format=%(trailers:only,unfold)', '--grep=cx triage -> build');
    expect(trailers).toContain('Tend-Agent: codex (gpt-test)');
    expect(trailers).toContain('Tend-Tokens: 300 in, 40 out');
  });

  it('opencode: `opencode run --format json -m M`, prompt on stdin, cost summed into the item', async () => {
    const argsLog = path.join(await scratchDir(), 'args');
    const root = await runRepo('write-artifact.mjs', { 'backlog/oc.md': quickFix('Oc') }, { model: 'anthropic/test' });
    const result = await tend(root, ['run', '--once', '--agent', 'opencode'], { env: env(argsLog) });
    expect(result.exitCode).toBe(0);
    const first = JSON.parse((await readFile(argsLog, 'utf8')).split('\n')[0] ?? '') as string[];
    expect(first).toEqual(['run', '--format', 'json', '-m', 'anthropic/test']);
    // triage, build, and two review lenses at $0.10 each
    expect(Number(await itemField(root, 'backlog/done/oc/item.md', 'cost_usd'))).toBeCloseTo(0.4, 6);
  });
});
