// Misbehaving agents, all in ONE run: each item's id names how its agent misbehaves
// (test/fixtures/agents/misbehave-by-id.mjs), one `tend run --once -c 4` runs them side by side,
// and each case then checks its own outcome. Whatever an agent does, the item is done or blocked
// with a clear reason, only backlog/ is committed, the user's files are untouched, no process it
// started outlives the run, and the other items carry on.
import { execa, type ResultPromise } from 'execa';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FIXTURES, itemField } from '../helpers/engine.js';
import { alive } from '../helpers/processes.js';
import { cleanEnv, git, TEND_BIN, tend, tendJson, writeTree } from '../helpers/repo.js';
import { trackTend } from '../helpers/tend-runs.js';
import type { ItemJson } from '../cli/support.js';

/** 50 MB without a newline: big enough that keeping it in memory would show, small enough for CI. */
const FLOOD_MB = 50;
const ONE_PHASE = '---\nphases:\n  - { name: work, prompt: build.md, artifact: work.md }\n---\nOne phase.\n';

/** id -> [the outcome a user sees, the reason an item is blocked with (none: it is done)]. */
const CASES: Record<string, [string, RegExp | null]> = {
  honest: ['does its job: done', null],
  flood: [`floods ${FLOOD_MB} MB of output with no newline: done, its log cut at log_max_bytes`, null],
  'garbage-output': ['prints binary garbage on stdout and stderr: done, the log holds it', null],
  'writes-outside': ['writes files outside backlog/ and outside the repository: done, none of them committed', null],
  'reads-stdin': ['reads stdin until it ends: it gets the end at once, and is done', null],
  'stages-a-file': ['stages a file of its own in your index: done; tend never commits it, it stays staged', null],
  'ignores-backlog': ['writes backlog/.gitignore ignoring everything: done, every transition still committed', null],
  'artifact-outside-only': [
    'writes its artifact outside the repository (../../..) instead: blocked, "did not write"',
    /did not write backlog\/work\/artifact-outside-only\/work\.md/,
  ],
  oversize: [
    'writes a 6 MiB artifact: blocked, the file moved to .tend/oversize/, never committed',
    /larger than 5 MiB; it was moved to \.tend\/oversize\/ and not committed/,
  ],
  'empty-artifact': ['writes an empty artifact: blocked, "did not write (or left it empty)"', /or left it empty/],
  'artifact-dir': ['makes a folder where its artifact goes: blocked, "did not write"', /did not write .*artifact-dir/],
  'ignores-sigterm': ['ignores SIGTERM and hangs: stopped (SIGKILL after the grace), blocked', /stall_timeout|timeout/],
  'hundred-children': ['forks a hundred children and hangs: all 101 stopped at the timeout, blocked', /timeout/],
  'closes-stdout': ['closes stdout and stderr early, then keeps running: stopped at the timeout, blocked', /timeout/],
  'kills-itself': ['dies of SIGSEGV: blocked, the reason names the signal', /SIGSEGV/],
  'artifact-symlink': [
    'leaves its artifact as a symlink to /etc/passwd: blocked, the link removed, never committed',
    /work\.md is a symlink/,
  ],
  'cost-negative': ['reports a cost of -5 dollars: done, the cost recorded as unknown', null],
  'cost-huge': ['reports a cost of 1e308 dollars: done, the cost recorded as unknown', null],
};

let root = '';
let out = '';
let peakRssKb = 0;
let run: { exitCode: number; stdout: string; stderr: string };
let board: { items: ItemJson[]; invalid: unknown[] };
let userHead = '';

beforeAll(async () => {
  root = mkdtempSync(path.join(os.tmpdir(), 'tend-hostile-agents-'));
  out = path.join(root, '.agent-notes');
  mkdirSync(out);
  await git(root, 'init', '--quiet', '--initial-branch=main');
  await git(root, 'config', 'commit.gpgsign', 'false');
  if ((await tend(root, ['init'])).exitCode !== 0) throw new Error('tend init failed');
  const agent = JSON.stringify(path.join(FIXTURES, 'misbehave-by-id.mjs'));
  await writeTree(root, {
    'ORCHESTRATOR.md': [
      '---',
      'agent: fake',
      'retries: 0',
      'retry_backoff: 0s',
      'timeout: 4s',
      'stall_timeout: 4s',
      'default_pipeline: one',
      'agents:',
      '  fake:',
      '    type: command',
      `    command: [${JSON.stringify(process.execPath)}, ${agent}]`,
      `    env: { FAKE_OUT_DIR: ${JSON.stringify(out)}, FAKE_FLOOD_MB: "${FLOOD_MB}" }`,
      '---',
      '',
    ].join('\n'),
    'pipelines/one.md': ONE_PHASE,
    'user.txt': "the user's own file\n",
    '.gitignore': '.tend/\n.agent-notes/\n',
  });
  await git(root, 'add', '--all');
  await git(root, 'commit', '--quiet', '-m', 'test setup');
  await writeTree(root, { 'user.txt': "the user's own file, edited, not committed\n" });
  const items = Object.keys(CASES).map((id) => [`backlog/${id}.md`, `---\ntitle: ${id}\n---\n`]);
  await writeTree(root, Object.fromEntries(items));
  userHead = await git(root, 'rev-parse', 'HEAD');
  run = await runWatchingMemory();
  board = await tendJson(root, ['status', '--all']);
}, 120_000);

afterAll(() => {
  if (root) {
    rmSync(root, { recursive: true, force: true });
    rmSync(`${root}-outside-writes-outside.md`, { force: true });
    rmSync(path.join(path.dirname(root), 'outside-artifact-outside-only.md'), { force: true });
  }
});

/** `tend run --once -c 4`, reading tend's own peak memory (VmHWM) while it runs. */
async function runWatchingMemory(): Promise<{ exitCode: number; stdout: string; stderr: string }> {
  const options = { cwd: root, env: cleanEnv(), extendEnv: false, reject: false } as const;
  const child: ResultPromise = trackTend(execa(process.execPath, [TEND_BIN, 'run', '--once', '-c', '4'], options));
  const poll = setInterval(() => {
    try {
      const kb = Number(/VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'))?.[1] ?? 0);
      peakRssKb = Math.max(peakRssKb, kb);
    } catch {
      // Exited meanwhile.
    }
  }, 50);
  const result = await child;
  clearInterval(poll);
  return { exitCode: result.exitCode ?? -1, stdout: String(result.stdout), stderr: String(result.stderr) };
}

describe('misbehaving agents, side by side in one run', () => {
  it('the run ends on its own (exit 0), every item done or blocked, nothing in backlog/ uncommitted', async () => {
    expect(run.exitCode, run.stderr).toBe(0);
    expect(board.invalid).toEqual([]);
    expect(board.items.map((i) => i.location).filter((l) => l !== 'done' && l !== 'blocked')).toEqual([]);
    const status = await git(root, 'status', '--porcelain', '--ignored', '--untracked-files=all', '--', 'backlog');
    expect(status).toBe('!! backlog/.gitignore');
  });

  describe.each(Object.entries(CASES))('an agent that %s', (id, [outcome, reason]) => {
    it(outcome, async () => {
      const entry = board.items.find((i) => i.id === id);
      expect(entry?.location).toBe(reason ? 'blocked' : 'done');
      if (reason) expect(await itemField(root, `backlog/blocked/${id}/item.md`, 'blocked_reason')).toMatch(reason);
    });
  });

  it("tend commits only backlog/ paths; the user's edit and the agents' litter stay uncommitted", async () => {
    const log = await git(root, 'log', '--format=', '--name-only', `${userHead}..HEAD`);
    const touched = log.split('\n').filter(Boolean);
    expect(touched.filter((f) => !f.startsWith('backlog/'))).toEqual([]);
    expect(readFileSync(path.join(root, 'user.txt'), 'utf8')).toBe("the user's own file, edited, not committed\n");
    const status = await git(root, 'status', '--porcelain', '--untracked-files=all', '--', 'user.txt', 'src');
    const expected = ['?? src/agent-litter.txt', 'A  src/staged-by-agent.txt', ' M user.txt'];
    expect(status.split('\n').sort()).toEqual(expected.sort());
    expect(await git(root, 'diff', '--cached', '--name-only')).toBe('src/staged-by-agent.txt');
  });

  it("with backlog/ ignored by an agent's .gitignore, every done item's artifact is still committed", async () => {
    const done = board.items.filter((i) => i.location === 'done').map((i) => `backlog/done/${i.id}/work.md`);
    expect(done.length).toBeGreaterThan(5);
    expect((await git(root, 'ls-files', '--', ...done)).split('\n').sort()).toEqual(done.sort());
  });

  it('files an agent wrote outside the repository are left alone and never read into a commit', async () => {
    expect(readFileSync(`${root}-outside-writes-outside.md`, 'utf8')).toBe('written outside the repository\n');
    expect(existsSync(path.join(path.dirname(root), 'outside-artifact-outside-only.md'))).toBe(true);
    expect(await git(root, 'log', '-p', '--all')).not.toContain('# misplaced');
  });

  it(`the ${FLOOD_MB} MB flood: the log is cut at log_max_bytes and tend's peak memory stays under 200 MB`, () => {
    const log = statSync(path.join(root, '.tend/logs/flood/work.1.log')).size;
    expect(log).toBeLessThan(1024 * 1024 + 1024);
    const text = readFileSync(path.join(root, '.tend/logs/flood/work.1.log'), 'utf8');
    expect(text).toContain('[tend: log cut at 1048576 bytes (log_max_bytes)]');
    expect(peakRssKb).toBeGreaterThan(0);
    expect(peakRssKb).toBeLessThan(200 * 1024);
  });

  it('binary garbage on stdout is logged and `tend show` of the item still works', async () => {
    expect(statSync(path.join(root, '.tend/logs/garbage-output/work.1.log')).size).toBeGreaterThan(100_000);
    expect((await tend(root, ['show', 'garbage-output'])).exitCode).toBe(0);
  });

  it('the 6 MiB artifact is in .tend/oversize/, and no commit holds it', async () => {
    const [kept] = readdirSync(path.join(root, '.tend/oversize'));
    expect(statSync(path.join(root, '.tend/oversize', kept ?? '')).size).toBe(6 * 1024 * 1024);
    expect(await git(root, 'log', '--all', '--format=%h', '--', 'backlog/*/oversize/work.md')).toBe('');
  });

  it('no process an agent started outlives the run: SIGTERM-ignorer, hundred children, closed output', () => {
    const pids = ['ignores-sigterm.pid', 'closes-stdout.pid', 'hundred-children.pids'].flatMap((f) =>
      readFileSync(path.join(out, f), 'utf8').trim().split('\n').map(Number),
    );
    expect(pids.length).toBe(102);
    expect(pids.filter(alive)).toEqual([]);
  });

  it("the symlink to /etc/passwd: no commit holds it or its target's text", async () => {
    expect(await git(root, 'log', '--all', '--format=%h', '--', 'backlog/*/artifact-symlink/work.md')).toBe('');
    expect(existsSync(path.join(root, 'backlog/blocked/artifact-symlink/work.md'))).toBe(false);
    expect(await git(root, 'log', '-p', '--all')).not.toContain('root:x:0:0');
  });

  it('a cost of -5 or 1e308 dollars: recorded as unknown, the item still readable, the run total finite', async () => {
    for (const id of ['cost-negative', 'cost-huge']) {
      const trailers = await git(root, 'log', '--format=%(trailers:key=Tend-Cost-USD,valueonly)', '--grep', `${id}`);
      expect(trailers.split('\n').filter(Boolean)[0], id).toBe('unknown');
      expect(await itemField(root, `backlog/done/${id}/item.md`, 'cost_usd'), id).toBe('0');
    }
    expect(run.stdout).not.toMatch(/Infinity|-\$|\$-/);
  });

  it('the agent that closed its output early: what it printed before is in the reason', async () => {
    const reason = await itemField(root, 'backlog/blocked/closes-stdout/item.md', 'blocked_reason');
    expect(reason).toContain('closing my output');
    expect(lstatSync(path.join(root, '.tend/logs/closes-stdout/work.1.log')).isFile()).toBe(true);
  });
});
