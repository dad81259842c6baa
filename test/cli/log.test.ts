// `tend log`: the transitions of a history read back after the fact, on any clone. The history is
// made by real `tend` commands (init, add, a dry-run run) with their commit dates fixed, then
// commits with crafted trailers whose figures are known exactly, and a person's commit between them.
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { commit, tendAt } from '../helpers/history.js';
import { cleanEnv, git, scratchDir, scratchRepo, tend, TEND_BIN, writeTree } from '../helpers/repo.js';
import { outsideGitEnv } from './support.js';
import type { LoggedTransition } from '../../src/core/transition-log.js';

/** Times are shown in the reader's time zone; these tests read in UTC. */
const UTC = { TZ: 'UTC' };

/** A subject no field separator may be confused by: tabs, quotes, the old \x1f/\x1e separators, escapes. */
const ODD_SUBJECT = 'tend: alpha review done\t"$(rm -rf /)" `x` \x1f\x1e é 漢字 \x1b[31mred';

async function makeHistory(root: string): Promise<void> {
  await git(root, 'init', '--quiet', '--initial-branch=main');
  await git(root, 'config', 'commit.gpgsign', 'false');
  await tendAt(root, '2025-11-30T10:00:00Z', ['init']);
  await tendAt(root, '2025-11-30T10:05:00Z', ['add', 'Fix login']);
  await tendAt(root, '2025-11-30T22:00:00Z', ['run', '--once', '--agent', 'dry-run', '--quiet']);
  const t = (...lines: string[]) => lines.join('\n');
  await commit(
    root,
    '2025-12-01T01:00:00Z',
    'tend: alpha build done',
    t(
      'Tend-Item: alpha',
      'Tend-Phase: build',
      'Tend-Outcome: done',
      'Tend-Agent: claude (opus)',
      'Tend-Duration: 94s',
      'Tend-Cost-USD: 0.41',
      'Tend-Attempt: 1',
      'Tend-Tokens: 10450 in, 2200 out',
    ),
  );
  // A person's commit that quotes a trailer in its text: not a transition.
  await writeTree(root, { 'notes.txt': 'notes\n' });
  await git(root, 'add', 'notes.txt');
  await commit(root, '2025-12-01T02:00:00Z', 'Add notes', 'Tend-Item: alpha\nTend-Outcome: done', 'Thanks, Ann.');
  await commit(
    root,
    '2025-12-01T03:00:00Z',
    'tend: beta build failed',
    t(
      'Tend-Item: beta',
      'Tend-Phase: build',
      'Tend-Outcome: failed',
      'Tend-Agent: codex',
      'Tend-Duration: 125s',
      'Tend-Cost-USD: unknown',
      'Tend-Attempt: 2',
      'Tend-Reason: exit code 1',
    ),
  );
  await commit(
    root,
    '2025-12-01T04:00:00Z',
    'tend: beta build done',
    t(
      'Tend-Item: beta',
      'Tend-Phase: build',
      'Tend-Outcome: done',
      'Tend-Agent: codex (gpt-5)',
      'Tend-Duration: 30s',
      'Tend-Cost-USD: unknown',
      'Tend-Attempt: 3',
    ),
  );
  await commit(
    root,
    '2025-12-01T05:00:00Z',
    'tend: gamma review done',
    t(
      'Tend-Item: gamma',
      'Tend-Phase: review',
      'Tend-Outcome: done',
      'Tend-Agent: claude',
      'Tend-Duration: soon',
      'Tend-Cost-USD: abc',
      'Tend-Attempt: 1',
    ),
  );
  await commit(
    root,
    '2025-12-01T06:00:00Z',
    ODD_SUBJECT,
    t(
      'Tend-Item: alpha',
      'Tend-Phase: review',
      'Tend-Outcome: done',
      'Tend-Agent: claude (opus)',
      'Tend-Duration: 60s',
      'Tend-Cost-USD: 1.25',
      'Tend-Attempt: 1',
    ),
  );
  // The morning after: made now, so `--since "12 hours ago"` finds it and nothing else.
  await commit(
    root,
    undefined,
    'tend: delta triage done',
    t(
      'Tend-Item: delta',
      'Tend-Phase: triage',
      'Tend-Outcome: done',
      'Tend-Agent: dry-run',
      'Tend-Duration: 0s',
      'Tend-Cost-USD: 0.02',
      'Tend-Attempt: 1',
    ),
  );
}

/** The table's rows as cells (columns are two or more spaces apart), without the header and total. */
function rows(stdout: string): string[][] {
  const lines = stdout.trimEnd().split('\n');
  expect(lines[0]?.split(/\s{2,}/)).toEqual([
    'time',
    'item',
    'phase',
    'outcome',
    'agent',
    'duration',
    'cost',
    'attempt',
  ]);
  return lines.slice(1, -1).map((line) => line.split(/\s{2,}/));
}

function totalLine(stdout: string): string {
  return stdout.trimEnd().split('\n').at(-1) ?? '';
}

const DECEMBER_FIRST = [
  ['2025-12-01 06:00', 'alpha', 'review', 'done', 'claude (opus)', '1m', '$1.25', '1'],
  ['2025-12-01 05:00', 'gamma', 'review', 'done', 'claude', 'soon (malformed)', 'abc (malformed)', '1'],
  ['2025-12-01 04:00', 'beta', 'build', 'done', 'codex (gpt-5)', '30s', 'unknown', '3'],
  ['2025-12-01 03:00', 'beta', 'build', 'failed', 'codex', '2m5s', 'unknown', '2'],
  ['2025-12-01 01:00', 'alpha', 'build', 'done', 'claude (opus)', '1m34s', '$0.41', '1'],
];
const DECEMBER_FIRST_TOTAL = 'total: 5 transitions, $1.66 known cost, 2 with cost unknown, 1 with a malformed cost';

describe('tend log over a scripted history', () => {
  let root = '';
  beforeAll(async () => {
    root = await mkdtemp(path.join(os.tmpdir(), 'tend-log-'));
    await makeHistory(root);
  });
  afterAll(async () => {
    if (root) await rm(root, { recursive: true, force: true });
  });
  const log = (...args: string[]) => tend(root, ['log', ...args], { env: UTC });

  it('a window shows its transitions newest first with exact figures, skipping the person’s commit', async () => {
    const result = await log('--since', '2025-12-01 00:00', '--until', '2025-12-01 23:59');
    expect(result.exitCode, result.report).toBe(0);
    expect(result.stderr).toBe('');
    expect(rows(result.stdout)).toEqual(DECEMBER_FIRST);
    expect(totalLine(result.stdout)).toBe(DECEMBER_FIRST_TOTAL);
  });

  it('a bare date is midnight: --since 2025-12-01 --until 2025-12-02 is that whole day', async () => {
    const result = await log('--since', '2025-12-01', '--until', '2025-12-02');
    expect(rows(result.stdout)).toEqual(DECEMBER_FIRST);
  });

  it('the whole history: every commit tend made, the dry run included, and the total', async () => {
    const result = await log();
    expect(result.exitCode, result.report).toBe(0);
    // What git itself says: the commits carrying a Tend-Outcome trailer (the person's has none).
    const outcomes = (await git(root, 'log', '--format=%(trailers:key=Tend-Outcome,valueonly,separator=)'))
      .split('\n')
      .filter(Boolean);
    const table = rows(result.stdout);
    expect(table.map((r) => r[3])).toEqual(outcomes);
    expect(table.at(-1)).toEqual(['2025-11-30 10:00', '-', '-', 'init', '-', '-', '-', '-']);
    expect(table.at(-2)).toEqual(['2025-11-30 10:05', 'fix-login', 'inbox', 'added', '-', '-', '-', '-']);
    const dryRunDone = table.filter((r) => r[1] === 'fix-login' && r[3] === 'done');
    expect(dryRunDone.length).toBeGreaterThan(2);
    for (const r of dryRunDone) expect(r.slice(4)).toEqual(['dry-run', '0s', '$0.00', '1']);
    expect(table.some((r) => r[0] === '2025-12-01 02:00')).toBe(false);
    const total = `total: ${outcomes.length} transitions, $1.68 known cost, 2 with cost unknown, 1 with a malformed cost`;
    expect(totalLine(result.stdout)).toBe(total);
  });

  it('--since "12 hours ago" finds only what happened since', async () => {
    const result = await log('--since', '12 hours ago');
    expect(rows(result.stdout).map((r) => r.slice(1))).toEqual([
      ['delta', 'triage', 'done', 'dry-run', '0s', '$0.02', '1'],
    ]);
    expect(totalLine(result.stdout)).toBe('total: 1 transition, $0.02 known cost, 0 with cost unknown');
  });

  it('a window with nothing in it prints nothing and exits 0; --json prints []', async () => {
    const result = await log('--since', '2025-11-15 00:00', '--until', '2025-11-20 00:00');
    expect(result.exitCode, result.report).toBe(0);
    expect(result.stdout).toBe('');
    expect(result.stderr).toBe('');
    const json = await log('--since', '2025-11-15 00:00', '--until', '2025-11-20 00:00', '--json');
    expect(JSON.parse(json.stdout)).toEqual([]);
  });

  it('<id> keeps one item; --outcome keeps those outcomes (repeatable)', async () => {
    const beta = await log('beta');
    expect(rows(beta.stdout)).toEqual(DECEMBER_FIRST.filter((r) => r[1] === 'beta'));
    expect(totalLine(beta.stdout)).toBe('total: 2 transitions, $0.00 known cost, 2 with cost unknown');
    const failed = await log('--outcome', 'failed');
    expect(rows(failed.stdout)).toEqual([DECEMBER_FIRST[3]]);
    const both = await log('--outcome', 'failed', '--outcome', 'init');
    expect(rows(both.stdout).map((r) => r[3])).toEqual(['failed', 'init']);
    const alphaDone = await log('alpha', '--outcome', 'done', '--since', '2025-12-01 05:30');
    expect(rows(alphaDone.stdout)).toEqual([DECEMBER_FIRST[0]]);
    const fixLogin = await log('fix-login', '--outcome', 'claimed');
    expect(rows(fixLogin.stdout).every((r) => r[1] === 'fix-login' && r[3] === 'claimed')).toBe(true);
    expect(await log('nobody')).toMatchObject({ exitCode: 0, stdout: '' });
  });

  it('an unknown outcome is a usage error: exit 2, the choices on stderr, nothing on stdout', async () => {
    const result = await log('--outcome', 'exploded');
    expect(result.exitCode).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr).toMatch(/exploded/);
    expect(result.stderr).toMatch(/"failed"/);
  });

  it('--json: an array of objects with the documented keys, figures as numbers, unknown never zero', async () => {
    const result = await log('--since', '2025-12-01 00:00', '--until', '2025-12-01 23:59', '--json');
    expect(result.exitCode, result.report).toBe(0);
    const entries = JSON.parse(result.stdout) as LoggedTransition[];
    expect(entries).toHaveLength(5);
    for (const entry of entries) {
      expect(Object.keys(entry).sort()).toEqual(
        [
          'commit',
          'time',
          'author',
          'subject',
          'item',
          'phase',
          'outcome',
          'agent',
          'model',
          'durationSeconds',
          'costUsd',
          'costUnknown',
          'attempt',
          'trailers',
          'malformed',
        ].sort(),
      );
      expect(entry.commit).toMatch(/^[0-9a-f]{40}$/);
    }
    const [alpha, gamma, , failed] = entries;
    expect(alpha).toMatchObject({
      time: '2025-12-01T06:00:00+00:00',
      author: 'Test User',
      subject: ODD_SUBJECT,
      item: 'alpha',
      phase: 'review',
      outcome: 'done',
      agent: 'claude',
      model: 'opus',
      durationSeconds: 60,
      costUsd: 1.25,
      costUnknown: false,
      attempt: 1,
      malformed: [],
    });
    expect(gamma).toMatchObject({ durationSeconds: null, costUsd: null, costUnknown: false });
    expect(gamma?.malformed).toEqual(['Tend-Duration', 'Tend-Cost-USD']);
    expect(gamma?.trailers).toMatchObject({ 'Tend-Duration': 'soon', 'Tend-Cost-USD': 'abc' });
    expect(failed).toMatchObject({ outcome: 'failed', costUsd: null, costUnknown: true, model: null });
    expect(failed?.trailers['Tend-Reason']).toBe('exit code 1');
  });

  it('a clone reads the same log', async () => {
    const clone = await scratchDir();
    await git(clone, 'clone', '--quiet', root, '.');
    const [here, there] = await Promise.all([log(), tend(clone, ['log'], { env: UTC })]);
    expect(there.exitCode, there.report).toBe(0);
    expect(there.stdout).toBe(here.stdout);
  });
});

/** `count` transitions at a cent each, one a minute, written straight into git (fast-import). */
async function writeLongHistory(root: string, count: number): Promise<void> {
  await git(root, 'init', '--quiet', '--initial-branch=main');
  const start = Date.parse('2025-06-01T00:00:00Z') / 1000;
  const commits = Array.from({ length: count }, (_, i) => {
    const message = `tend: item-${i} build done\n\nTend-Item: item-${i}\nTend-Outcome: done\nTend-Cost-USD: 0.01\n`;
    const header = `commit refs/heads/main\ncommitter Test User <test@example.com> ${start + i * 60} +0000\n`;
    return `${header}data ${Buffer.byteLength(message)}\n${message}\n`;
  });
  await execa('git', ['fast-import', '--quiet'], {
    cwd: root,
    input: commits.join(''),
    env: cleanEnv(),
    extendEnv: false,
  });
}

describe('tend log over a long history', () => {
  let root = '';
  beforeAll(async () => {
    root = await mkdtemp(path.join(os.tmpdir(), 'tend-log-'));
    await writeLongHistory(root, 3000);
  });
  afterAll(async () => {
    if (root) await rm(root, { recursive: true, force: true });
  });

  it('3,000 transitions at a cent each add up to exactly $30.00', async () => {
    const result = await tend(root, ['log']);
    expect(result.exitCode, result.report).toBe(0);
    expect(totalLine(result.stdout)).toBe('total: 3000 transitions, $30.00 known cost, 0 with cost unknown');
  });

  it('a reader that stops early (| head -2) ends the output quietly: no error, exit 0', async () => {
    const script = `node ${JSON.stringify(TEND_BIN)} log | head -2; echo "exit \${PIPESTATUS[0]}" >&2`;
    const result = await execa('bash', ['-c', script], { cwd: root, env: cleanEnv(), extendEnv: false });
    expect(result.stdout.split('\n')).toHaveLength(2);
    expect(result.stderr).toBe('exit 0');
  });
});

describe('tend log with no transitions, or no repository', () => {
  it('a history with no tend commits: no output, exit 0', async () => {
    const root = await scratchRepo({ 'README.md': '# project\n' });
    await commit(root, undefined, 'Second commit', 'Signed-off-by: A Person <a@example.com>');
    const result = await tend(root, ['log']);
    expect(result).toMatchObject({ exitCode: 0, stdout: '', stderr: '' });
    expect(JSON.parse((await tend(root, ['log', '--json'])).stdout)).toEqual([]);
  });

  it('a repository with no commit yet: no output, exit 0', async () => {
    const result = await tend(await scratchRepo(), ['log']);
    expect(result).toMatchObject({ exitCode: 0, stdout: '', stderr: '' });
  });

  it('outside a git repository: exit 1 and why on stderr', async () => {
    const dir = await scratchDir();
    const result = await tend(dir, ['log'], { env: outsideGitEnv(dir) });
    expect(result.exitCode).toBe(1);
    expect(result.stdout).toBe('');
    expect(result.stderr).toMatch(/not inside a git repository/);
  });
});
