// `tend report` over a scripted night: two items taken through the coding pipeline by the real
// dry-run agent (each on its own branch, with work committed there), then transitions whose
// figures are known exactly (a failure and its retry, a review loop, usage-limit parking, an
// item waiting for approval, a blocked one), and a person's commit between them.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { commit, tendAt } from '../helpers/history.js';
import { item, runRepo } from '../helpers/engine.js';
import { git, scratchDir, scratchRepo, tend, writeTree } from '../helpers/repo.js';
import { outsideGitEnv } from './support.js';
import type { Report } from '../../src/core/report.js';

const trailers = (fields: Record<string, string>) =>
  Object.entries(fields)
    .map(([k, v]) => `Tend-${k}: ${v}`)
    .join('\n');

/** Work committed on an item's branch by hand, as an agent's build would, without checking it out. */
async function workOnBranch(root: string, id: string, files: Record<string, string>): Promise<void> {
  const dir = path.join(await scratchDir(), 'wt');
  await git(root, 'worktree', 'add', '--quiet', dir, `tend/${id}`);
  await writeTree(dir, files);
  await git(dir, 'add', '--all');
  await commit(dir, '2025-11-30T22:30:00Z', `${id}: the work`);
  await git(root, 'worktree', 'remove', dir);
}

const WAITING = `---
title: Delta export
pipeline: coding
status: waiting
---
Export the board as CSV.
`;

const BLOCKED = `---
title: Zeta cache
pipeline: coding
status: failed
blocked_phase: build
blocked_reason: "build failed 3 times: exit code 1; \`tend retry zeta\` to try again"
---
Cache the board.
`;

async function craftedNight(root: string): Promise<void> {
  const run = (id: string, phase: string, outcome: string, agent: string, s: number, cost: string) =>
    trailers({ Item: id, Phase: phase, Outcome: outcome, Agent: agent, Duration: `${s}s`, 'Cost-USD': cost });
  await commit(
    root,
    '2025-12-01T01:00:00Z',
    'tend: beta build failed',
    `${run('beta', 'build', 'failed', 'codex', 125, 'unknown')}\nTend-Attempt: 1\nTend-Reason: exit code 1`,
  );
  await writeTree(root, { 'notes.txt': 'notes\n' });
  await git(root, 'add', 'notes.txt');
  await commit(root, '2025-12-01T01:30:00Z', 'Add notes', 'Tend-Item: beta\nTend-Outcome: done', 'Thanks, Ann.');
  await commit(
    root,
    '2025-12-01T02:00:00Z',
    'tend: beta build -> review',
    run('beta', 'build', 'done', 'codex (gpt-5)', 30, '0.50'),
  );
  await commit(
    root,
    '2025-12-01T03:00:00Z',
    'tend: beta review -> build (rejected, round 1)',
    run('beta', 'review', 'rejected', 'claude (opus)', 60, '1.25'),
  );
  const parked = `${run('gamma', 'prd', 'parked', 'claude', 5, '0.02')}\nTend-Reason: usage limit reached`;
  await commit(root, '2025-12-01T04:00:00Z', 'tend: gamma prd parked until 2025-12-01T09:00:00Z (usage limit)', parked);
  await writeTree(root, { 'backlog/prd/delta/item.md': WAITING, 'backlog/prd/delta/PRD.md': '# PRD\n\nCSV.\n' });
  await git(root, 'add', 'backlog/prd/delta');
  await commit(
    root,
    '2025-12-01T05:00:00Z',
    'tend: delta prd waiting',
    run('delta', 'prd', 'waiting', 'claude (sonnet)', 40, '0.30'),
  );
  await writeTree(root, { 'backlog/blocked/zeta/item.md': BLOCKED });
  await git(root, 'add', 'backlog/blocked/zeta');
  const blocked = `${run('zeta', 'build', 'blocked', 'codex', 20, 'unknown')}\nTend-Reason: exit code 1`;
  await commit(root, '2025-12-01T06:00:00Z', 'tend: zeta build -> blocked', blocked);
}

async function makeNight(root: string): Promise<void> {
  await git(root, 'init', '--quiet', '--initial-branch=main');
  await git(root, 'config', 'commit.gpgsign', 'false');
  await tendAt(root, '2025-11-30T10:00:00Z', ['init']);
  await tendAt(root, '2025-11-30T10:05:00Z', ['add', 'Fix login', '--body', 'Make the login work on Safari.']);
  await tendAt(root, '2025-11-30T10:06:00Z', ['add', 'Add search', '--body', 'Search the board by title.']);
  await tendAt(root, '2025-11-30T22:00:00Z', ['run', '--once', '--agent', 'dry-run', '--quiet']);
  await workOnBranch(root, 'fix-login', { 'src/login.js': 'a\nb\nc\n' });
  await workOnBranch(root, 'add-search', { 'src/search.js': 'x\n', 'test/search.test.js': 'y\ny\n' });
  await craftedNight(root);
}

const NIGHT = ['--since', '2025-11-30 21:00', '--until', '2025-12-01 23:59'];

describe('tend report over a scripted night', () => {
  let root = '';
  let dryRuns = 0;
  // Two items through the whole coding pipeline and a dozen commits: slow on a loaded machine.
  beforeAll(async () => {
    root = await mkdtemp(path.join(os.tmpdir(), 'tend-report-'));
    await makeNight(root);
    const runs = await git(
      root,
      'log',
      '--format=%(trailers:key=Tend-Agent,valueonly)',
      '--since=2025-11-30 21:00',
      '--until=2025-11-30 23:00',
    );
    dryRuns = runs.split('\n').filter((l) => l.trim() === 'dry-run').length;
  }, 120_000);
  afterAll(async () => {
    if (root) await rm(root, { recursive: true, force: true });
  });
  const report = (...args: string[]) => tend(root, ['report', ...args]);

  it('Markdown: waiting first with the commands, then what finished, trouble, time and money', async () => {
    const result = await report(...NIGHT);
    expect(result.exitCode, result.report).toBe(0);
    expect(result.stderr).toBe('');
    const md = result.stdout;
    const headings = md.split('\n').filter((l) => l.startsWith('## '));
    expect(headings).toEqual([
      '## Waiting for you (2)',
      '## Finished (2)',
      '## Failed, retried, sent back, parked',
      '## Time',
      '## Money',
    ]);
    expect(md).toContain(
      '- **Delta export** (`delta`) waits for approval in prd: read backlog/prd/delta/PRD.md, then approve\n',
    );
    expect(md).toContain('  run `tend approve delta` or `tend reject delta --reason "what must change"`');
    expect(md).toContain(
      '- **Zeta cache** (`zeta`) blocked in build: build failed 3 times: exit code 1; `tend retry zeta` to\n',
    );
    expect(md).toContain('  run `tend retry zeta`');
    expect(md).toContain('### Fix login (`fix-login`)');
    expect(md).toContain('**Asked:** Make the login work on Safari.');
    expect(md).toContain('- change: 1 file changed, +3 -0 (`main...tend/fix-login`)');
    expect(md).toContain('- change: 2 files changed, +3 -0 (`main...tend/add-search`)');
    expect(md).toContain('- review it: branch `tend/add-search`');
    expect(md).toContain('[review.md](backlog/done/fix-login/review.md)');
    expect(md).toContain('| correctness | approve | review (correctness) for fix-login |\n');
    expect(md).toContain('(and 9 lens reviews beside review.md)');
    expect(md).toContain('| 2025-12-01 01:00 UTC | `beta` | build | failed | 1 | exit code 1 |');
    expect(md).toContain('- retried: `beta` build failed once, then passed');
    expect(md).toContain('- sent back: `beta` by review to build, round 1');
    expect(md).toContain('- parked: `gamma` in prd until 2025-12-01 09:00 UTC: usage limit reached');
    expect(md).toContain('- makespan (first to last transition): 8h');
    expect(md).toContain('- agent slots busy: 1% (busy / (makespan × concurrency 1))');
    expect(md).toContain(`Total: $2.07 + unknown (2 runs) over ${dryRuns + 6} agent runs.`);
    expect(md).toContain('| `beta` | $1.75 + unknown (1 run) | 3 |');
    expect(md).toContain('| `zeta` | unknown (1 run) | 1 |');
    expect(md).toContain('| codex | unknown (2 runs) | 2 |');
    expect(md).not.toContain('Add notes');
  });

  it('--json is the model, with the exact figures', async () => {
    const result = await report(...NIGHT, '--json');
    expect(result.exitCode, result.report).toBe(0);
    const model = JSON.parse(result.stdout) as Report;
    expect(JSON.parse((await report(...NIGHT, '--format', 'json')).stdout)).toEqual(model);
    expect(model.version).toBe(1);
    expect(model.window).toEqual({
      since: '2025-11-30 21:00',
      until: '2025-12-01 23:59',
      first: '2025-11-30T22:00:00+00:00',
      last: '2025-12-01T06:00:00+00:00',
    });
    expect(model.attention.map((a) => [a.kind, a.id])).toEqual([
      ['approval', 'delta'],
      ['blocked', 'zeta'],
    ]);
    expect(model.finished.map((f) => [f.id, f.branch, f.change?.files, f.change?.insertions])).toEqual(
      expect.arrayContaining([
        ['fix-login', 'tend/fix-login', 1, 3],
        ['add-search', 'tend/add-search', 2, 3],
      ]),
    );
    expect(model.money.total).toEqual({ knownUsd: 2.07, unknown: 2, runs: dryRuns + 6 });
    expect(model.time.makespanSeconds).toBe(8 * 3600);
    expect(model.time.busySeconds).toBe(280);
    expect(model.time.busyShare).toBe(0.01);
    const build = model.time.phases.find((p) => p.phase === 'build');
    expect(build).toMatchObject({ medianSeconds: 20, longestSeconds: 125, longestItem: 'beta' });
    expect(model.trouble.retried).toEqual([{ id: 'beta', phase: 'build', failed: 1, latest: 'done' }]);
  });

  it('--format html --out: one self-contained file; links lead back to the artifacts', async () => {
    const result = await report(...NIGHT, '--format', 'html', '--out', 'reports/night.html');
    expect(result.exitCode, result.report).toBe(0);
    expect(result.stdout).toBe('wrote reports/night.html');
    const html = await readFile(path.join(root, 'reports/night.html'), 'utf8');
    expect(html.startsWith('<!doctype html>')).toBe(true);
    expect(html).toContain('<h2>Waiting for you (2)</h2>');
    expect(html).toContain('href="../backlog/done/fix-login/review.md"');
    expect(html).not.toMatch(/<script|<link /);
    await rm(path.join(root, 'reports'), { recursive: true });
  });

  it('--out with Markdown writes the same text stdout would show', async () => {
    const out = path.join(await scratchDir(), 'night.md');
    const result = await report(...NIGHT, '--out', out);
    expect(result.exitCode, result.report).toBe(0);
    const shown = await report(...NIGHT);
    const written = await readFile(out, 'utf8');
    const prefix = `${path.relative(path.dirname(out), root)}/`;
    const headings = (text: string) => text.split('\n').filter((l) => l.startsWith('#'));
    expect(headings(written)).toEqual(headings(shown.stdout));
    expect(written).toContain(`[review.md](${prefix}backlog/done/fix-login/review.md)`);
    expect(written).not.toContain('](backlog/');
  });

  it('a window with nothing in it still shows what waits, and says nothing happened', async () => {
    const result = await report('--since', '2025-11-15', '--until', '2025-11-20');
    expect(result.exitCode, result.report).toBe(0);
    expect(result.stdout).toContain('Nothing happened in this window: no transition was committed.');
    expect(result.stdout).toContain('## Waiting for you (2)');
    expect(result.stdout).toContain('Nothing was finished in this window.');
    expect(result.stdout).toContain('Total: $0.00 over 0 agent runs.');
  });

  it('the default window is the last 12 hours', async () => {
    const result = await report();
    expect(result.exitCode, result.report).toBe(0);
    expect(result.stdout.split('\n')[0]).toBe('# tend report: 12 hours ago to now');
    expect(result.stdout).toContain('Nothing happened in this window');
  });

  it('an unknown format is a usage error', async () => {
    const result = await report('--format', 'pdf');
    expect(result.exitCode).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr).toMatch(/pdf/);
  });
});

describe('tend report without tend history', () => {
  it('outside a git repository: exit 1 and why on stderr', async () => {
    const dir = await scratchDir();
    const result = await tend(dir, ['report'], { env: outsideGitEnv(dir) });
    expect(result.exitCode).toBe(1);
    expect(result.stdout).toBe('');
    expect(result.stderr).toMatch(/not inside a git repository/);
  });

  it('--out where nothing can be written: exit 1, the path and a fix', async () => {
    const root = await scratchRepo({ 'README.md': '# project\n' });
    const result = await tend(root, ['report', '--out', 'README.md/night.md']);
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toMatch(/cannot write README\.md\/night\.md: (ENOTDIR|EEXIST)/);
    expect(result.stderr).toMatch(/choose another --out path/);
  });

  it('a history with no tend commits: an empty report, exit 0', async () => {
    const root = await scratchRepo({ 'README.md': '# project\n' });
    await commit(root, undefined, 'Second commit', 'Signed-off-by: A Person <a@example.com>');
    const result = await tend(root, ['report']);
    expect(result.exitCode, result.report).toBe(0);
    expect(result.stderr).toBe('');
    expect(result.stdout).toContain('Nothing happened in this window');
    expect(result.stdout).toContain('Nothing waits for a person.');
    expect(result.stdout).toContain('No agent ran in this window.');
    const model = JSON.parse((await tend(root, ['report', '--json'])).stdout) as Report;
    expect(model).toMatchObject({ transitions: 0, attention: [], finished: [], time: { concurrency: null } });
  });
});

describe('tend report: the size of work that has landed', () => {
  it('merge: merge measures the merge commit; merge: ff (branch deleted) says the size is unknown', async () => {
    const quickFix = (title: string) => item(title, 'pipeline: quick-fix\n');
    const merged = await runRepo('commit-code.mjs', { 'backlog/feature.md': quickFix('Feature') }, { merge: 'merge' });
    expect((await tend(merged, ['run', '--once'])).exitCode).toBe(0);
    const mergeCommit = (await git(merged, 'log', '-1', '--merges', '--format=%H')).trim();
    const model = JSON.parse((await tend(merged, ['report', '--json'])).stdout) as Report;
    expect(model.finished.map((f) => [f.id, f.branch, f.change])).toEqual([
      ['feature', null, { files: 1, insertions: 1, deletions: 0, of: mergeCommit.slice(0, 12) }],
    ]);
    const ff = await runRepo('commit-code.mjs', { 'backlog/fast.md': quickFix('Fast') }, { merge: 'ff' });
    expect((await tend(ff, ['run', '--once'])).exitCode).toBe(0);
    const md = (await tend(ff, ['report'])).stdout;
    expect(md).toContain('- change: size of change unknown (no branch or merge commit found)');
    expect(md).toContain('- review it: no branch kept (its work has landed, or it was built in the checkout)');
  }, 120_000);
});
