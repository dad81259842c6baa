// Finished items: `tend status` shows how many there are and the latest few (by the commit that
// added each to done/), `--all` every one; everything else that needs them works from their ids.
import { describe, expect, it } from 'vitest';
import { item, runRepo } from '../helpers/engine.js';
import { git, tend, tendOk, writeTree } from '../helpers/repo.js';
import { copyRepo, sharedRepo, statusJson } from './support.js';

/** Finished in this order, one commit each (as moves by hand are); priorities mix the order up. */
const FINISHED = ['task-c', 'task-a', 'task-g', 'task-b', 'task-f', 'task-d', 'task-e'];

describe('tend status and done/', () => {
  const board = sharedRepo(async (root) => {
    // The broken one is the oldest, so it is not among the latest shown.
    await writeTree(root, { 'backlog/done/broken-old/item.md': '---\npriority: high\n---\n# Broken\n' });
    await git(root, 'add', '--all');
    await git(root, 'commit', '--quiet', '-m', 'broken-old done');
    for (const [i, id] of FINISHED.entries()) {
      await writeTree(root, { [`backlog/done/${id}/item.md`]: item(`Task ${id}`, `priority: ${(i % 3) + 1}\n`) });
      await git(root, 'add', '--all');
      await git(root, 'commit', '--quiet', '-m', `${id} done`);
    }
    await writeTree(root, { 'backlog/build/busy/item.md': item('Busy', 'pipeline: quick-fix\n') });
  });
  const latestFive = ['task-e', 'task-d', 'task-f', 'task-b', 'task-g'];

  it('counts every done item and shows the latest 5, newest first, and how to see them all', async () => {
    const result = await tendOk(board(), ['status']);
    expect(result.stderr).toBe('');
    expect(result.stdout).toMatch(/^done \(8\)$/m);
    const rows = result.stdout
      .split('\n')
      .filter((l) => /^ {2}task-/.test(l))
      .map((l) => l.trim().split(/\s+/)[0]);
    expect(rows).toEqual(latestFive);
    expect(result.stdout).toContain('  8 in all, the latest 5 shown; `tend status --all` shows every one');
    // The broken file is not read, so not listed; the item in a phase is shown as always.
    expect(result.stdout).not.toMatch(/invalid/);
    expect(result.stdout).toMatch(/^build \(1\)\n {2}busy\s+p3\s+queued/m);
  });

  it('--all shows every done item, and lists the broken one as invalid', async () => {
    const result = await tendOk(board(), ['status', '--all']);
    expect(result.stdout).toMatch(/^done \(7\)$/m);
    const rows = result.stdout
      .split('\n')
      .filter((l) => /^ {2}task-/.test(l))
      .map((l) => l.trim().split(/\s+/)[0]);
    expect(rows).toEqual([...FINISHED].reverse());
    expect(result.stdout).not.toContain('in all');
    expect(result.stdout).toMatch(/invalid \(1\)/);
    expect(result.stdout).toMatch(/backlog\/done\/broken-old\/item\.md:2: priority: .*found "high"/);
  });

  it('--json carries the count and the items shown; --done N shows N', async () => {
    const json = await statusJson(board());
    expect(json.counts.done).toBe(8);
    expect(json.done).toEqual({ count: 8, shown: latestFive, all: false });
    const done = json.items.filter((i) => i.location === 'done');
    expect(done.map((i) => i.id)).toEqual(latestFive);
    expect(done[0]).toMatchObject({ title: 'Task task-e', file: 'backlog/done/task-e/item.md', status: 'queued' });
    expect(json.items.map((i) => i.id)).toContain('busy');
    expect(json.invalid).toEqual([]);

    const two = await statusJson(board(), ['--done', '2']);
    expect(two.done).toEqual({ count: 8, shown: ['task-e', 'task-d'], all: false });
    const all = await statusJson(board(), ['--all']);
    expect(all.done).toEqual({ count: 7, shown: [...FINISHED].reverse(), all: true });
    expect(all.invalid.map((i) => i.path)).toEqual(['backlog/done/broken-old/item.md']);

    for (const wrong of ['-1', '1.5', 'abc']) {
      const bad = await tend(board(), ['status', '--done', wrong]);
      expect({ wrong, exitCode: bad.exitCode }).toEqual({ wrong, exitCode: 2 });
      expect(bad.stderr).toMatch(/--done must be a whole number/);
    }
  });

  it('--done 0 shows none of them, more than there are shows them all, and --all wins over --done', async () => {
    const none = await tendOk(board(), ['status', '--done', '0']);
    expect(none.stdout).toMatch(/^done \(8\)$/m);
    expect(none.stdout).toContain('8 in all, none shown');
    expect(none.stdout).not.toMatch(/^ {2}task-/m);
    const more = await statusJson(board(), ['--done', '50']);
    expect(more.done.shown).toHaveLength(7); // the broken folder is counted, not shown
    const both = await statusJson(board(), ['--done', '2', '--all']);
    expect(both.done).toEqual({ count: 7, shown: [...FINISHED].reverse(), all: true });
  });

  it('an item moved into done/ and not committed yet is counted, and is the latest', async () => {
    const root = await copyRepo(board());
    await writeTree(root, { 'backlog/done/task-new/item.md': item('New') });
    const json = await statusJson(root, ['--done', '3']);
    expect(json.done).toEqual({ count: 9, shown: ['task-new', 'task-e', 'task-d'], all: false });
  });

  it('tend show reads a done item; tend doctor finds the broken one', async () => {
    const shown = await tendOk(board(), ['show', 'task-a']);
    expect(shown.stdout).toMatch(/^Task task-a {2}\(task-a\)$/m);
    expect(shown.stdout).toContain('file: backlog/done/task-a/item.md');
    const broken = await tend(board(), ['show', 'broken-old']);
    expect(broken.exitCode).toBe(0);
    expect(broken.stdout).toMatch(/invalid: backlog\/done\/broken-old\/item\.md/);
    const missing = await tend(board(), ['show', 'task']);
    expect(missing.exitCode).toBe(1);
    expect(missing.stderr).toMatch(/did you mean .*task-/);

    // doctor exits 1 here (no agent CLI on PATH); its JSON is printed all the same.
    const doctor = JSON.parse((await tend(board(), ['doctor', '--json'])).stdout) as {
      checks: { name: string; details: string[] }[];
    };
    const backlog = doctor.checks.find((c) => c.name === 'backlog items');
    expect(backlog?.details.join('\n')).toMatch(/backlog\/done\/broken-old\/item\.md:2: priority/);
  });

  it("tend add: a title that is a done item's id gets another id; a done item is a dependency", async () => {
    const root = await copyRepo(board());
    const added = await tendOk(root, ['add', 'Task A', '-d', 'task-a']);
    expect(added.stdout).toContain('added task-a-2 (backlog/task-a-2.md)');
    const unknown = await tend(root, ['add', 'Other', '-d', 'task-z']);
    expect(unknown.exitCode).toBe(1);
    expect(unknown.stderr).toMatch(/no item with id task-z/);
  });
});

describe('a run and done/', () => {
  it('an item depending on a done item runs to done/; an inbox file named like one gets its own id', async () => {
    const root = await runRepo('write-artifact.mjs', {
      'backlog/done/base/item.md': item('Base'),
      'backlog/done/older/item.md': item('Older'),
      'backlog/next.md': item('Next', 'pipeline: quick-fix\ndepends_on: [base]\n'),
      'backlog/base.md': item('Base again', 'pipeline: quick-fix\n'),
    });
    const run = await tend(root, ['run', '--once', '--agent', 'dry-run', '--json']);
    expect(run.exitCode, run.report).toBe(0);
    const summary = JSON.parse(run.stdout) as { done: string[]; blocked: string[] };
    expect(summary.blocked).toEqual([]);
    expect([...summary.done].sort()).toEqual(['base-2', 'next']);

    const json = await statusJson(root);
    expect(json.done.count).toBe(4);
    // The two the run finished come first, the last one it finished at the top.
    const last = (await git(root, 'log', '-1', '--format=%s', '--grep=-> done$')).trim();
    expect(json.done.shown[0]).toBe(last.split(' ')[1]);
    expect(json.done.shown.slice(0, 2).sort()).toEqual(['base-2', 'next']);
  });
});
