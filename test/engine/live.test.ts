// Live mode with the real watcher: `tend run` (no --once) reacting to a human editing the
// backlog by hand.
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { item, runRepo, settingsFor, tendSubjects } from '../helpers/engine.js';
import { alive, eventually, startLiveRun } from '../helpers/processes.js';
import { git, read, scratchDir } from '../helpers/repo.js';

const subjectsOf = (root: string) => () => tendSubjects(root);

describe('tend run in live mode', () => {
  it('takes in a new inbox file, including one saved by rename, and finishes it', async () => {
    const root = await runRepo('write-artifact.mjs');
    const run = startLiveRun(root);
    await eventually(
      () => run.output(),
      (o) => o.includes('watching backlog/'),
      'the watcher to be ready',
    );
    await writeFile(path.join(root, 'backlog/live.md'), item('Live', 'pipeline: quick-fix\n'));
    // An editor's save-by-rename: write a temporary file, then rename it into place.
    await writeFile(path.join(root, 'backlog/.saved.md.tmp'), item('Saved', 'pipeline: quick-fix\n'));
    await rename(path.join(root, 'backlog/.saved.md.tmp'), path.join(root, 'backlog/saved.md'));
    const subjects = await eventually(
      subjectsOf(root),
      (s) => s.includes('tend: live review -> done') && s.includes('tend: saved review -> done'),
      'both items done',
    );
    expect(subjects).toContain('tend: live inbox -> triage');
    run.child.kill('SIGTERM');
    expect(await run.exited).toBe(143);
    expect(await git(root, 'status', '--porcelain', '--', 'backlog')).toBe('');
  });

  it('commits a priority edit as its own transition, and the scheduler follows it', async () => {
    const state = await scratchDir();
    const pidFile = path.join(state, 'pid');
    const root = await runRepo('hang.mjs', {
      'backlog/first.md': item('First', 'pipeline: quick-fix\npriority: 1\n'),
      'backlog/later.md': item('Later', 'pipeline: quick-fix\npriority: 4\n'),
      'backlog/urgent.md': item('Urgent', 'pipeline: quick-fix\npriority: 5\n'),
    });
    const run = startLiveRun(root, { env: { FAKE_PID_FILE: pidFile } });
    await eventually(
      () => existsSync(pidFile),
      (v) => v,
      'the first agent to start',
    );
    // While `first` holds the only slot, the human makes `urgent` the most urgent item.
    const file = 'backlog/triage/urgent/item.md';
    await writeFile(path.join(root, file), (await read(root, file)).replace('priority: 5', 'priority: 1'));
    await eventually(
      subjectsOf(root),
      (s) => s.includes('tend: urgent edited by hand (priority 5 -> 1)'),
      'the edit commit',
    );
    expect(await git(root, 'status', '--porcelain', '--', 'backlog')).toBe('');
    // Let the hanging agent go: the next agent is a quick one, and it must pick `urgent`.
    await writeFile(path.join(root, 'ORCHESTRATOR.md'), settingsFor('write-artifact.mjs'));
    await eventually(
      () => run.output(),
      (o) => o.includes('configuration reloaded'),
      'the new settings',
    );
    process.kill(Number(readFileSync(pidFile, 'utf8')), 'SIGKILL');
    const subjects = await eventually(
      subjectsOf(root),
      (s) => s.some((x) => x.startsWith('tend: later triage started')),
      'later to start',
    );
    // Of the two waiting items, `urgent` (priority 5 until the edit) is the one started first.
    const starts = subjects.filter((s) => /^tend: (urgent|later) triage started/.test(s));
    expect(starts[0]).toMatch(/^tend: urgent triage started/);
  }, 60_000); // four waits: on a loaded machine one may take most of its 20 s and still pass

  it("commits an edit by hand made right after the item's intake, and its undo, which the run's own writes do not hide", async () => {
    const state = await scratchDir();
    const pidFile = path.join(state, 'pid');
    const root = await runRepo(
      'hang.mjs',
      { 'backlog/first.md': item('First', 'pipeline: quick-fix\n') },
      {
        concurrency: 1,
      },
    );
    const run = startLiveRun(root, { env: { FAKE_PID_FILE: pidFile } });
    await eventually(
      () => existsSync(pidFile),
      (v) => v,
      'the first agent to start',
    );
    // `first` holds the only slot, so `second` waits in triage/ once taken in.
    await writeFile(path.join(root, 'backlog/second.md'), item('Second', 'pipeline: quick-fix\npriority: 3\n'));
    const file = 'backlog/triage/second/item.md';
    // At once after the intake's commit, while its own file events may still be on their way.
    await eventually(subjectsOf(root), (s) => s.includes('tend: second inbox -> triage'), 'the intake');
    const taken = await read(root, file);
    await writeFile(path.join(root, file), taken.replace('priority: 3', 'priority: 1'));
    await eventually(subjectsOf(root), (s) => s.includes('tend: second edited by hand (priority 3 -> 1)'), 'the edit');
    // Undone by hand: the very text the intake wrote, yet a change from what is committed now.
    await writeFile(path.join(root, file), taken);
    const subjects = await eventually(
      subjectsOf(root),
      (s) => s.includes('tend: second edited by hand (priority 1 -> 3)'),
      'the undo commit',
    );
    expect(subjects.filter((x) => x.startsWith('tend: second'))).toEqual([
      'tend: second inbox -> triage',
      'tend: second edited by hand (priority 3 -> 1)',
      'tend: second edited by hand (priority 1 -> 3)',
    ]);
    expect(await git(root, 'status', '--porcelain', '--', 'backlog')).toBe('');
    process.kill(Number(readFileSync(pidFile, 'utf8')), 'SIGKILL');
    run.child.kill('SIGTERM');
    await run.exited;
  }, 60_000);

  it('accepts a folder moved by hand; stops the agent of a folder deleted by hand', async () => {
    const pids = await scratchDir();
    const pidFile = path.join(pids, 'doomed.pid');
    const root = await runRepo(
      'hang.mjs',
      {
        'backlog/doomed.md': item('Doomed', 'pipeline: quick-fix\npriority: 1\n'),
        'backlog/parked.md': item('Parked', 'pipeline: gated\n'),
        'pipelines/gated.md': '---\nphases:\n  - { name: triage, approve: true }\n  - { name: build }\n---\nGated.\n',
      },
      { concurrency: 2 },
    );
    const run = startLiveRun(root, { env: { FAKE_PID_DIR: pids } });
    await eventually(
      () => existsSync(pidFile),
      (v) => v,
      'the agent to start',
    );
    const agentPid = Number(readFileSync(pidFile, 'utf8'));
    await rm(path.join(root, 'backlog/triage/doomed'), { recursive: true, force: true });
    await eventually(
      subjectsOf(root),
      (s) => s.includes('tend: doomed removed by hand from triage'),
      'the removal commit',
    );
    await eventually(
      () => alive(agentPid),
      (running) => !running,
      'the agent to be stopped',
    );

    // `parked` is running triage (hang.mjs); move it by hand to build while it runs.
    await eventually(subjectsOf(root), (s) => s.includes('tend: parked triage started (attempt 1)'), 'parked to start');
    await mkdir(path.join(root, 'backlog/build'), { recursive: true });
    await rename(path.join(root, 'backlog/triage/parked'), path.join(root, 'backlog/build/parked'));
    await eventually(
      subjectsOf(root),
      (s) => s.includes('tend: parked moved by hand: triage -> build'),
      'the move commit',
    );
    expect(run.output()).toMatch(/parked was moved to build\/ by hand: its agent is stopped/);
    run.child.kill('SIGTERM');
    expect(await run.exited).toBe(143);
    expect(await git(root, 'status', '--porcelain', '--', 'backlog')).toBe('');
  });

  it('reloads an edited pipeline; an invalid ORCHESTRATOR.md keeps the last good one', async () => {
    const root = await runRepo('write-artifact.mjs');
    const run = startLiveRun(root);
    await eventually(
      () => run.output(),
      (o) => o.includes('watching backlog/'),
      'the watcher to be ready',
    );
    await writeFile(path.join(root, 'pipelines/tiny.md'), '---\nphases:\n  - { name: triage }\n---\nOne phase.\n');
    await writeFile(path.join(root, 'backlog/small.md'), item('Small', 'pipeline: tiny\n'));
    await eventually(subjectsOf(root), (s) => s.includes('tend: small triage -> done'), 'the new pipeline to be used');

    await writeFile(path.join(root, 'ORCHESTRATOR.md'), '---\nconcurrency: lots\n---\n');
    await eventually(
      () => run.output(),
      (o) => /configuration has errors; keeping the last good one:\n\s+ORCHESTRATOR\.md:2: concurrency/.test(o),
      'the config error',
    );
    await writeFile(path.join(root, 'backlog/after.md'), item('After', 'pipeline: tiny\n'));
    await eventually(subjectsOf(root), (s) => s.includes('tend: after triage -> done'), 'work to go on');
    // The last good settings (the fake agent, not the default claude) did the work.
    expect(await read(root, 'backlog/done/after/triage.md')).toContain('written by a fake agent');
    expect(run.output().match(/configuration has errors/g)).toHaveLength(1);
  });
});
