// budget.per_day_usd: the spending of the last 24 hours, summed from the Tend-Cost-USD trailers in
// git history (so it holds across restarts and clones), stops a run from starting anything new;
// `tend status` says which cap holds an item back.
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { item, itemField, runRepo } from '../helpers/engine.js';
import { cleanEnv, git, scratchDir, tend, tendOk } from '../helpers/repo.js';
import { eventually, startLiveRun } from '../helpers/processes.js';
import { statusJson } from './support.js';

const TWO =
  '---\nphases:\n  - { name: first, prompt: build.md }\n  - { name: second, prompt: build.md }\n---\nTwo phases.\n';
const HOUR = 3600_000;

/** A commit as another machine's run left it, `hoursAgo` hours ago, costing `usd`. */
async function spent(root: string, hoursAgo: number, usd: string, id = 'elsewhere'): Promise<void> {
  const iso = new Date(Date.now() - hoursAgo * HOUR).toISOString();
  const env = cleanEnv({ GIT_AUTHOR_DATE: iso, GIT_COMMITTER_DATE: iso });
  const trailers = `Tend-Item: ${id}\nTend-Phase: build\nTend-Outcome: done\nTend-Cost-USD: ${usd}`;
  const args = ['commit', '--quiet', '--allow-empty', '-m', `tend: ${id} build -> review`, '-m', trailers];
  await execa('git', args, { cwd: root, env, extendEnv: false });
}

async function cappedRepo(): Promise<string> {
  const root = await runRepo(
    'costly-artifact.mjs',
    { 'pipelines/two.md': TWO, 'backlog/pay.md': item('Pay', 'pipeline: two\n') },
    { budget: '{ per_day_usd: 3 }' },
  );
  await spent(root, 30, '50.00'); // a day and more ago: out of the window
  await spent(root, 2, '2.50');
  return root;
}

describe('budget.per_day_usd', () => {
  it('the last 24 hours of trailers count, older ones do not; once reached nothing new starts', async () => {
    const root = await cappedRepo();
    // $2.50 of $3 in the window: the item may start (the $50 a day and more ago does not count).
    expect((await statusJson(root)).items.find((i) => i.id === 'pay')?.held_by).toBeNull();

    const result = await tend(root, ['run', '--once']);
    expect(result.exitCode, result.report).toBe(0);
    // The first phase ran ($1), which took the day to $3.50: the second did not start.
    expect(await itemField(root, 'backlog/second/pay/item.md', 'status')).toBe('queued');
    const said = 'budget.per_day_usd reached: $3.50 spent in the last 24 hours';
    expect(result.stderr).toContain(`warning: ${said} (the commits' Tend-Cost-USD trailers) of $3.00`);
    expect(result.stdout).toContain(`stopped: ${said}`);

    const board = await statusJson(root);
    expect(board.items.find((i) => i.id === 'pay')).toMatchObject({
      location: 'second',
      held_by: 'budget.per_day_usd',
    });
    const text = (await tendOk(root, ['status'])).stdout;
    expect(text).toMatch(/pay\s+p3\s+held \(budget\.per_day_usd\)/);
    expect(text).toContain(
      'budget.per_day_usd reached: $3.50 spent in the last 24 hours of $3.00; 1 item(s) held until spending rolls out',
    );

    // A restart gets no fresh budget: the spending is in the history, not in the process.
    const again = await tend(root, ['run', '--once', '--json']);
    expect(again.exitCode, again.report).toBe(0);
    expect(JSON.parse(again.stdout)).toMatchObject({ transitions: 0, phasesDone: 0 });
    expect(again.stderr).toContain(said);
  });

  it('a clone holds the same cap: the spending came with the history', async () => {
    const root = await cappedRepo();
    await tendOk(root, ['run', '--once']);
    const clone = path.join(await scratchDir(), 'clone');
    await git(root, 'clone', '--quiet', root, clone);
    const result = await tend(clone, ['run', '--once']);
    expect(result.exitCode, result.report).toBe(0);
    expect(result.stderr).toContain('budget.per_day_usd reached: $3.50');
    expect(await itemField(clone, 'backlog/second/pay/item.md', 'status')).toBe('queued');
  });

  it('a phase running when the cap is reached is not stopped: it finishes, and nothing new starts', async () => {
    const root = await cappedRepo();
    await writeFile(path.join(root, 'backlog/slow.md'), item('Slow', 'pipeline: two\n'));
    await git(root, 'add', 'backlog');
    await git(root, 'commit', '--quiet', '-m', 'a second item');
    const release = path.join(await scratchDir(), 'release');
    const run = startLiveRun(root, {
      args: ['--once', '--concurrency', '2'],
      env: { FAKE_SLOW_ITEM: 'slow', FAKE_RELEASE: release },
    });
    // pay's first phase ($1) takes the day to $3.50 while slow's agent still works.
    await eventually(run.output, (o) => o.includes('budget.per_day_usd reached: $3.50'), 'the cap to be reached');
    expect(await itemField(root, 'backlog/first/slow/item.md', 'status')).toBe('running');
    await writeFile(release, 'go\n');
    expect(await run.exited, run.report()).toBe(0);
    for (const id of ['pay', 'slow']) {
      expect(await itemField(root, `backlog/second/${id}/item.md`, 'status')).toBe('queued');
      expect(await itemField(root, `backlog/second/${id}/item.md`, 'cost_usd')).toBe('1');
    }
    expect(run.output()).toMatch(/2 phases done, 0 failed attempts/);
  });

  it('without the cap, or under it, nothing is held', async () => {
    const root = await runRepo('costly-artifact.mjs', {
      'pipelines/two.md': TWO,
      'backlog/pay.md': item('Pay', 'pipeline: two\n'),
    });
    await spent(root, 1, '500.00');
    const result = await tend(root, ['run', '--once']);
    expect(result.stderr).toBe('');
    expect(await itemField(root, 'backlog/done/pay/item.md', 'cost_usd')).toBe('2');
    expect((await tendOk(root, ['status'])).stdout).not.toContain('held');
  });
});
