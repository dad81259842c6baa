// Review loops, human approval, dependencies and concurrency, through the real binary.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { item, itemField, runRepo, tendSubjects } from '../helpers/engine.js';
import { read, scratchDir, tend, tendJson, writeTree } from '../helpers/repo.js';

const GATED = `---
phases:
  - { name: triage }
  - { name: prd, artifact: PRD.md, approve: true }
  - { name: build }
---
A pipeline where a human reads the PRD before anything is built.
`;

describe('review verdicts', () => {
  it('a rejecting review sends the item back to build with the feedback, then it finishes', async () => {
    const state = await scratchDir();
    const root = await runRepo('reject-once.mjs', { 'backlog/loop.md': item('Loop', 'pipeline: quick-fix\n') });
    const result = await tend(root, ['run', '--once'], { env: { FAKE_STATE_DIR: state } });
    expect(result.exitCode).toBe(0);
    const subjects = await tendSubjects(root);
    expect(subjects).toContain('tend: loop review -> build (rejected, round 1)');
    expect(subjects.at(-1)).toBe('tend: loop review -> done');
    const done = 'backlog/done/loop';
    expect(await itemField(root, `${done}/item.md`, 'loops')).toBe('1');
    expect(await itemField(root, `${done}/item.md`, 'feedback')).toBeUndefined();
    // The second build saw the rejection in its prompt.
    expect(await read(root, `${done}/build.md`)).toContain('feedback seen: yes');
    expect(await read(root, `${done}/review.md`)).toMatch(/^---\nverdict: approve\n---/);
    expect(await read(root, `${done}/review.md`)).toMatch(/\| correctness \| approve \|/);
  });
});

describe('approval by a human', () => {
  it('waits after the artifact is written; `tend approve` moves it on', async () => {
    const root = await runRepo('write-artifact.mjs', {
      'pipelines/gated.md': GATED,
      'backlog/feature.md': item('Feature', 'pipeline: gated\n'),
    });
    const first = await tend(root, ['run', '--once']);
    expect(first.exitCode).toBe(0);
    expect(first.stdout).toMatch(/waiting for approval \(`tend approve <id>`\): feature/);
    expect(await itemField(root, 'backlog/prd/feature/item.md', 'status')).toBe('waiting');
    expect(await read(root, 'backlog/prd/feature/PRD.md')).toContain('# prd');

    const approve = await tend(root, ['approve', 'feature']);
    expect(approve.exitCode).toBe(0);
    expect(approve.stdout).toContain('feature: prd -> build (approved)');
    expect((await tendSubjects(root)).at(-1)).toBe('tend: feature prd -> build (approved)');
    expect((await tend(root, ['run', '--once'])).exitCode).toBe(0);
    expect(await itemField(root, 'backlog/done/feature/item.md', 'status')).toBe('queued');
  });

  const ROUTED =
    '---\nphases:\n  - { name: triage, approve: true }\n  - { name: build }\n---\nTriage waits for a human.\n';
  const DIRECT = '---\nphases:\n  - { name: spec, artifact: spec.md }\n  - { name: build }\n---\nNo triage.\n';
  const routedRepo = () =>
    runRepo('write-artifact.mjs', {
      'pipelines/routed.md': ROUTED,
      'pipelines/direct.md': DIRECT,
      'backlog/route-me.md': item('Route me', 'pipeline: routed\n'),
    });

  it('a waiting triage that chose a pipeline without triage stays valid; approved by hand, it starts that pipeline', async () => {
    const root = await routedRepo();
    expect((await tend(root, ['run', '--once'], { env: { FAKE_PIPELINE: 'direct' } })).exitCode).toBe(0);
    // Waiting in triage/, it is still in `routed`, so it stays valid while a human reads triage.md.
    const file = 'backlog/triage/route-me/item.md';
    expect(await itemField(root, file, 'status')).toBe('waiting');
    expect(await itemField(root, file, 'pipeline')).toBe('routed');
    expect((await tendJson<{ invalid: unknown[] }>(root, ['status'])).invalid).toEqual([]);
    await writeTree(root, {
      [file]: (await read(root, file)).replace('status: waiting', 'status: waiting\napproved: true'),
    });
    expect((await tend(root, ['run', '--once'])).exitCode).toBe(0);
    expect(await tendSubjects(root)).toContain('tend: route-me triage -> spec (approved)');
    expect(await itemField(root, 'backlog/done/route-me/item.md', 'pipeline')).toBe('direct');
    expect(await read(root, 'backlog/done/route-me/spec.md')).toContain('# spec');
  });

  it('`tend approve` on a triage reads the choice from triage.md then, so a human can change it first', async () => {
    const root = await routedRepo();
    expect((await tend(root, ['run', '--once'], { env: { FAKE_PIPELINE: 'direct' } })).exitCode).toBe(0);
    const triage = 'backlog/triage/route-me/triage.md';
    await writeTree(root, { [triage]: (await read(root, triage)).replace('pipeline: direct', 'pipeline: quick-fix') });
    const approve = await tend(root, ['approve', 'route-me']);
    expect(approve.exitCode).toBe(0);
    expect(approve.stdout).toContain('route-me: triage -> build (approved)');
    expect(await itemField(root, 'backlog/build/route-me/item.md', 'pipeline')).toBe('quick-fix');
    expect((await tend(root, ['run', '--once'])).exitCode).toBe(0);
    expect(await read(root, 'backlog/done/route-me/review.md')).toMatch(/verdict: approve/);
  });

  it('setting `approved: true` by hand is as good as `tend approve`', async () => {
    const root = await runRepo('write-artifact.mjs', {
      'pipelines/gated.md': GATED,
      'backlog/feature.md': item('Feature', 'pipeline: gated\n'),
    });
    await tend(root, ['run', '--once']);
    const file = 'backlog/prd/feature/item.md';
    await writeTree(root, {
      [file]: (await read(root, file)).replace('status: waiting', 'status: waiting\napproved: true'),
    });
    await tend(root, ['run', '--once']);
    expect(await tendSubjects(root)).toContain('tend: feature prd -> build (approved)');
    expect(await read(root, 'backlog/done/feature/build.md')).toContain('# build');
  });

  it('`tend reject --reason` sends it back with the reason for the next agent; --block blocks it', async () => {
    const root = await runRepo('write-artifact.mjs', {
      'pipelines/gated.md': GATED,
      'backlog/feature.md': item('Feature', 'pipeline: gated\n'),
      'backlog/other.md': item('Other', 'pipeline: gated\n'),
    });
    await tend(root, ['run', '--once']);
    const rejected = await tend(root, ['reject', 'feature', '--reason', 'Cover the mobile app too']);
    expect(rejected.exitCode).toBe(0);
    expect(await itemField(root, 'backlog/prd/feature/item.md', 'status')).toBe('queued');
    expect(await itemField(root, 'backlog/prd/feature/item.md', 'feedback')).toBe('Cover the mobile app too');
    await tend(root, ['run', '--once']);
    const prompt = await readFile(path.join(root, '.tend/logs/feature/prd.1.prompt.md'), 'utf8');
    expect(prompt).toContain('Cover the mobile app too');

    const blocked = await tend(root, ['reject', 'other', '--reason', 'Not worth it', '--block']);
    expect(blocked.exitCode).toBe(0);
    expect(await itemField(root, 'backlog/blocked/other/item.md', 'blocked_reason')).toBe(
      'rejected by a human: Not worth it',
    );
    const notWaiting = await tend(root, ['approve', 'other']);
    expect(notWaiting.exitCode).toBe(1);
    expect(notWaiting.stderr).toMatch(/not waiting for approval/);
  });
});

describe('dependencies', () => {
  it('runs a dependency first even when it has a lower priority; blocks missing ids and cycles', async () => {
    const qf = 'pipeline: quick-fix\n';
    const root = await runRepo('write-artifact.mjs', {
      'backlog/app.md': item('App', `${qf}priority: 1\ndepends_on: [lib]\n`),
      'backlog/lib.md': item('Lib', `${qf}priority: 5\n`),
      'backlog/orphan.md': item('Orphan', `${qf}depends_on: [nothing-here]\n`),
      'backlog/chicken.md': item('Chicken', `${qf}depends_on: [egg]\n`),
      'backlog/egg.md': item('Egg', `${qf}depends_on: [chicken]\n`),
    });
    const result = await tend(root, ['run', '--once']);
    expect(result.exitCode).toBe(0);
    const subjects = await tendSubjects(root);
    expect(subjects.indexOf('tend: lib review -> done')).toBeLessThan(
      subjects.indexOf('tend: app triage started (attempt 1)'),
    );
    expect(await itemField(root, 'backlog/done/app/item.md', 'status')).toBe('queued');
    expect(await itemField(root, 'backlog/blocked/orphan/item.md', 'blocked_reason')).toMatch(
      /depends on nothing-here, which no item has as id/,
    );
    expect(await itemField(root, 'backlog/blocked/chicken/item.md', 'blocked_reason')).toMatch(
      /dependency cycle chicken -> egg -> chicken/,
    );
  });
});

describe('concurrency', () => {
  const overlap = (a: number[], b: number[]) => (a[0] ?? 0) < (b[1] ?? 0) && (b[0] ?? 0) < (a[1] ?? 0);
  const times = async (dir: string, name: string) =>
    (await readFile(path.join(dir, name), 'utf8')).trim().split(' ').map(Number);

  it("--concurrency 2 runs two items at once; the default of 1 never overlaps two items (one item's lenses may)", async () => {
    const items = {
      'backlog/one.md': item('One', 'pipeline: quick-fix\n'),
      'backlog/two.md': item('Two', 'pipeline: quick-fix\n'),
    };
    const parallel = await scratchDir();
    const rendezvous = await scratchDir();
    const root = await runRepo('slow-write.mjs', items);
    expect(
      (
        await tend(root, ['run', '--once', '--concurrency', '2'], {
          env: { FAKE_STATE_DIR: parallel, FAKE_RENDEZVOUS: rendezvous, FAKE_DELAY_MS: '100' },
        })
      ).exitCode,
    ).toBe(0);
    expect(overlap(await times(parallel, 'one.triage.times'), await times(parallel, 'two.triage.times'))).toBe(true);

    const serial = await scratchDir();
    const root2 = await runRepo('slow-write.mjs', items);
    const env = { FAKE_STATE_DIR: serial, FAKE_DELAY_MS: '300', FAKE_LENS_RENDEZVOUS: await scratchDir() };
    expect((await tend(root2, ['run', '--once'], { env })).exitCode).toBe(0);
    expect(overlap(await times(serial, 'one.triage.times'), await times(serial, 'two.triage.times'))).toBe(false);
    const lensTimes = (id: string, lens: string) => times(serial, `${id}.review-${lens}.times`);
    expect(overlap(await lensTimes('one', 'correctness'), await lensTimes('two', 'correctness'))).toBe(false);
    expect(overlap(await lensTimes('one', 'tests'), await lensTimes('two', 'tests'))).toBe(false);
    // quick-fix reviews in a worktree: one item's lenses run side by side there, each in its own.
    expect(overlap(await lensTimes('one', 'correctness'), await lensTimes('one', 'tests'))).toBe(true);
  });
});
