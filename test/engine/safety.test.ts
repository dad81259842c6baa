// One run per checkout, shutting down on a signal, and surviving kill -9 at any moment.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { item, itemField, runRepo, settingsFor, tendSubjects } from '../helpers/engine.js';
import { alive, startLiveRun, waitFor } from '../helpers/processes.js';
import { commitCount, git, read, scratchDir, tend, tendJson } from '../helpers/repo.js';

describe('one run per checkout', () => {
  it('a second run is refused while the first holds the lock; SIGTERM stops the agent and requeues its item', async () => {
    const state = await scratchDir();
    const pidFile = path.join(state, 'agent.pid');
    const root = await runRepo('hang.mjs', { 'backlog/slow.md': item('Slow', 'pipeline: quick-fix\n') });
    const first = startLiveRun(root, { env: { FAKE_PID_FILE: pidFile } });
    await waitFor(() => existsSync(pidFile), 'the agent to start', 15_000);

    const second = await tend(root, ['run', '--once']);
    expect(second.exitCode).toBe(1);
    expect(second.stderr).toMatch(/another tend run \(pid \d+, started .*\) is working in this checkout/);

    const agentPid = Number(readFileSync(pidFile, 'utf8'));
    first.child.kill('SIGTERM');
    expect(await first.exited).toBe(143);
    expect(alive(agentPid)).toBe(false);
    const file = 'backlog/triage/slow/item.md';
    expect(await itemField(root, file, 'status')).toBe('queued');
    expect(await itemField(root, file, 'attempts')).toBe('0');
    expect(await itemField(root, file, 'owner')).toBeUndefined();
    expect((await tendSubjects(root)).at(-1)).toBe('tend: slow triage interrupted, requeued');
    expect(existsSync(path.join(root, '.tend/run.lock'))).toBe(false);
    expect(await git(root, 'status', '--porcelain', '--', 'backlog')).toBe('');
  });
});

describe('kill -9', () => {
  it('a killed run leaves a stale lock and a running item; the next run takes over, stops the orphaned agent, and finishes', async () => {
    const state = await scratchDir();
    const pidFile = path.join(state, 'agent.pid');
    const root = await runRepo('hang.mjs', { 'backlog/crash.md': item('Crash', 'pipeline: quick-fix\n') });
    const first = startLiveRun(root, { env: { FAKE_PID_FILE: pidFile } });
    await waitFor(() => existsSync(pidFile), 'the agent to start', 15_000);
    const agentPid = Number(readFileSync(pidFile, 'utf8'));
    first.child.kill('SIGKILL');
    await first.exited;
    expect(alive(agentPid)).toBe(true); // its own process group outlives tend
    expect(await itemField(root, 'backlog/triage/crash/item.md', 'status')).toBe('running');

    await writeFile(path.join(root, 'ORCHESTRATOR.md'), settingsFor('write-artifact.mjs'));
    const second = await tend(root, ['run', '--once']);
    expect(second.exitCode).toBe(0);
    expect(second.stderr).toMatch(/took over the lock of a run that is gone/);
    expect(second.stderr).toMatch(/stopped 1 agent process group/);
    expect(alive(agentPid)).toBe(false);
    const subjects = await tendSubjects(root);
    expect(subjects).toContain('tend: crash triage requeued (the run holding it ended)');
    expect(subjects.at(-1)).toBe('tend: crash review -> done');
    // The interrupted attempt counted: the retry was attempt 2.
    expect(subjects).toContain('tend: crash triage started (attempt 2)');
  });

  it('killed between making the intake folder and moving the file in: the empty folder is no item, intake completes', async () => {
    const root = await runRepo('write-artifact.mjs', { 'backlog/half.md': item('Half', 'pipeline: quick-fix\n') });
    await mkdir(path.join(root, 'backlog/triage/half'), { recursive: true });
    const board = await tendJson<{ items: { id: string; location: string }[]; invalid: unknown[] }>(root, ['status']);
    expect(board.invalid).toEqual([]);
    expect(board.items.map((i) => [i.id, i.location])).toEqual([['half', 'inbox']]);
    expect((await tend(root, ['run', '--once'])).exitCode).toBe(0);
    expect(await itemField(root, 'backlog/done/half/item.md', 'title')).toBe('Half');
    expect(existsSync(path.join(root, 'backlog/triage/half'))).toBe(false);
    expect(await git(root, 'status', '--porcelain', '--', 'backlog')).toBe('');
  });

  it('an item whose last attempt a killed run cut short is blocked, not started again after every restart', async () => {
    const root = await runRepo('write-artifact.mjs', {
      'backlog/triage/crashy/item.md': item(
        'Crashy',
        'pipeline: quick-fix\nstatus: running\nattempts: 2\nowner: gone:1\n',
      ),
    });
    const result = await tend(root, ['run', '--once']);
    expect(result.exitCode).toBe(0);
    expect(result.stdout).toMatch(/blocked \(see `tend show <id>`\): crashy/);
    expect(await tendSubjects(root)).toEqual(['tend: crashy triage -> blocked (last attempt interrupted)']);
    expect(await itemField(root, 'backlog/blocked/crashy/item.md', 'blocked_reason')).toMatch(
      /attempt 2 of 2 was cut short/,
    );
    expect((await tend(root, ['retry', 'crashy'])).exitCode).toBe(0);
    expect((await tend(root, ['run', '--once'])).exitCode).toBe(0);
    expect(existsSync(path.join(root, 'backlog/done/crashy/review.md'))).toBe(true);
  });

  it('killed at random moments and restarted, every item ends in done/ exactly once, whole', async () => {
    const ids = ['a1', 'b2', 'c3', 'd4', 'e5'];
    // Enough retries that no item runs out of attempts however often a kill interrupts it.
    const root = await runRepo(
      'write-artifact.mjs',
      Object.fromEntries(
        ids.map((id, i) => [`backlog/${id}.md`, item(`Item ${id}`, `pipeline: quick-fix\npriority: ${(i % 5) + 1}\n`)]),
      ),
      { retries: 20 },
    );
    for (let round = 0; round < 8; round++) {
      const before = await commitCount(root);
      const run = startLiveRun(root, { args: ['--once'] });
      // Kill once this run has committed something of its own, after a delay that varies by
      // round, so kills land mid-transition and mid-phase rather than during start-up.
      const deadline = Date.now() + 15_000;
      while ((await commitCount(root)) <= before && run.child.exitCode === null && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 10));
      await new Promise((r) => setTimeout(r, (round * 37) % 150));
      run.child.kill('SIGKILL');
      await run.exited;
      // After every kill, each item file is whole and parses: nothing half-written, nothing invalid.
      const board = await tendJson<{ items: { id: string }[]; invalid: unknown[] }>(root, ['status']);
      expect(board.invalid).toEqual([]);
      expect(board.items.map((i) => i.id).sort()).toEqual(ids);
    }
    const final = await tend(root, ['run', '--once']);
    expect(final.exitCode).toBe(0);
    const board = await tendJson<{ items: { id: string; location: string }[]; invalid: unknown[] }>(root, ['status']);
    expect(board.invalid).toEqual([]);
    expect(board.items.map((i) => [i.id, i.location]).sort()).toEqual(ids.map((id) => [id, 'done']));
    for (const id of ids) {
      expect(await read(root, `backlog/done/${id}/item.md`)).toContain(`title: Item ${id}`);
      expect(await readFile(path.join(root, `backlog/done/${id}/review.md`), 'utf8')).toMatch(/verdict: approve/);
    }
    // Everything tend did is committed, under tend's own messages, and nothing outside backlog/
    // was touched.
    expect(await git(root, 'status', '--porcelain', '--', 'backlog')).toBe('');
    expect(await git(root, 'log', '--format=%s', '--grep=by hand')).toBe('');
    expect(existsSync(path.join(root, '.tend/journal')) ? readdirSync(path.join(root, '.tend/journal')) : []).toEqual(
      [],
    );
  }, 120_000);
});
