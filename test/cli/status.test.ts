// `tend status`: the board as text and as the documented JSON, hand-written files beside
// `tend add` items, in scheduling order.
import { utimes } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { initializedRepo, scratchDir, tend, tendJson, writeTree } from '../helpers/repo.js';
import { copyRepo, outsideGitEnv, sharedRepo, statusJson, type ProblemJson } from './support.js';

describe('tend status', () => {
  const board = sharedRepo(async (root) => {
    for (const args of [
      ['add', 'Someday maybe', '-p', '5'],
      ['add', 'Fix login on Safari', '-p', '1', '-l', 'bug'],
      ['add', 'Newer normal item'],
    ]) {
      const result = await tend(root, args);
      if (result.exitCode !== 0) throw new Error(result.stderr);
    }
    // Hand-written, no frontmatter: default priority 3, and older than `newer-normal-item`
    // by its modification time.
    await writeTree(root, { 'backlog/x.md': '# Hand-written idea\n\nJust a thought.\n' });
    const old = new Date('2021-03-04T05:06:07Z');
    await utimes(path.join(root, 'backlog/x.md'), old, old);
    await writeTree(root, {
      'backlog/design/in-design/item.md':
        '---\ntitle: Being designed\npriority: 2\nstatus: waiting\nattempts: 1\ncost_usd: 0.42\nnote: kept\n---\nBody.\n',
      'backlog/design/in-design/research.md': '# Research\n',
      'backlog/broken.md': '---\npriority: high\n---\n# Broken\n',
    });
  });

  it('lists a hand-written file without frontmatter beside `tend add` items, by priority then age', async () => {
    const result = await tend(board(), ['status']);
    expect(result.exitCode).toBe(0);
    expect(result.stderr).toBe('');
    const lines = result.stdout.split('\n');
    const order = ['fix-login-on-safari', 'x', 'newer-normal-item', 'someday-maybe'].map((id) =>
      lines.findIndex((l) => l.trimStart().startsWith(`${id} `)),
    );
    expect(
      order.every((i) => i >= 0),
      result.stdout,
    ).toBe(true);
    expect([...order].sort((a, b) => a - b)).toEqual(order);
    expect(lines[order[1] ?? -1]).toMatch(/x\s+p3\s+queued\s+att 0\s+.*Hand-written idea$/);
    expect(result.stdout).toMatch(/^inbox \(4\)$/m);
    expect(result.stdout).toMatch(/^design \(1\)$/m);
    expect(result.stdout).toMatch(/in-design\s+p2\s+waiting\s+att 1\s+\S+\s+\$0\.42\s+Being designed/);
    expect(result.stdout).toMatch(/invalid \(1\)/);
    expect(result.stdout).toMatch(
      /backlog\/broken\.md:2: priority: expected an integer from 1 .* to 5 .*, found "high"/,
    );
  });

  it('gives the same board as JSON, in the same order', async () => {
    const json = await statusJson(board());
    expect(json.items.map((i) => i.id)).toEqual([
      'fix-login-on-safari',
      'x',
      'newer-normal-item',
      'someday-maybe',
      'in-design',
    ]);
    const hand = json.items.find((i) => i.id === 'x');
    expect(hand).toMatchObject({
      title: 'Hand-written idea',
      location: 'inbox',
      file: 'backlog/x.md',
      priority: 3,
      status: 'queued',
      created: '2021-03-04T05:06:07.000Z',
    });
    expect(json.items.find((i) => i.id === 'fix-login-on-safari')).toMatchObject({
      priority: 1,
      labels: ['bug'],
      file: 'backlog/fix-login-on-safari.md',
    });
  });

  it('has the documented JSON shape', async () => {
    const json = await statusJson(board());
    expect(Object.keys(json).sort()).toEqual([
      'config',
      'counts',
      'done',
      'invalid',
      'items',
      'run',
      'sync',
      'version',
    ]);
    expect(json.version).toBe(1);
    for (const item of json.items) {
      expect(item).toEqual({
        id: expect.stringMatching(/^[a-z0-9-]+$/),
        title: expect.any(String),
        location: expect.any(String),
        file: expect.stringMatching(/^backlog\/.+\.md$/),
        pipeline: null,
        priority: expect.any(Number),
        status: expect.stringMatching(/^(queued|running|waiting|failed)$/),
        attempts: expect.any(Number),
        labels: expect.any(Array),
        depends_on: expect.any(Array),
        created: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
        age_seconds: expect.any(Number),
        cost_usd: expect.any(Number),
        artifacts: expect.any(Array),
        owner: null,
        approved: null,
        resume_at: null,
        blocked_reason: null,
        branch: null,
        stale: [],
        stale_source: null,
        held_by: null,
      });
      expect(item.age_seconds).toBeGreaterThanOrEqual(0);
    }
    expect(json.items.find((i) => i.id === 'in-design')).toMatchObject({
      location: 'design',
      file: 'backlog/design/in-design/item.md',
      status: 'waiting',
      attempts: 1,
      cost_usd: 0.42,
      artifacts: ['research.md'],
    });
    expect(json.items.find((i) => i.id === 'x')?.age_seconds).toBeGreaterThan(365 * 24 * 3600);

    expect(json.counts).toMatchObject({ inbox: 4, triage: 0, design: 1, review: 0, done: 0, blocked: 0 });
    expect(Object.keys(json.counts)[0]).toBe('inbox');
    expect(Object.keys(json.counts).slice(-2)).toEqual(['done', 'blocked']);
    expect(json.done).toEqual({ count: 0, shown: [], all: true });

    expect(json.invalid).toEqual([
      {
        path: 'backlog/broken.md',
        id: 'broken',
        location: 'inbox',
        problems: [
          {
            file: 'backlog/broken.md',
            line: 2,
            key: 'priority',
            message: expect.stringMatching(/found "high"/),
            fix: null,
          },
        ],
      },
    ]);
    expect(json.config).toEqual({ errors: [], warnings: [] });
  });

  it('reports config errors and warnings in the JSON, each with file, line, key and message', async () => {
    const root = await copyRepo(board());
    await writeTree(root, { 'ORCHESTRATOR.md': '---\nconcurrency: lots\ncolour: blue\n---\nContext.\n' });
    const result = await tend(root, ['status', '--json']);
    expect(result.exitCode).toBe(0);
    const json = JSON.parse(result.stdout) as {
      config: { errors: ProblemJson[]; warnings: ProblemJson[] };
      items: unknown[];
    };
    expect(json.items).toHaveLength(5);
    expect(json.config.errors).toEqual([
      { file: 'ORCHESTRATOR.md', line: 2, key: 'concurrency', message: expect.stringContaining('lots'), fix: null },
    ]);
    expect(json.config.warnings).toEqual([
      {
        file: 'ORCHESTRATOR.md',
        line: 3,
        key: 'colour',
        message: expect.stringMatching(/unknown setting/),
        fix: expect.any(String),
      },
    ]);

    const text = await tend(root, ['status']);
    expect(text.exitCode).toBe(0);
    expect(text.stdout).toMatch(/config error: ORCHESTRATOR\.md:2: concurrency: /);
  });

  it('shows an empty board in a fresh repository', async () => {
    const dir = await scratchDir();
    expect((await tend(dir, ['init'], { env: outsideGitEnv(dir) })).exitCode).toBe(0);
    const json = await statusJson(dir);
    expect(json.items).toEqual([]);
    expect(json.invalid).toEqual([]);
    expect(Object.values(json.counts).every((n) => n === 0)).toBe(true);
  });

  it('fails with exit 1 outside a git repository', async () => {
    const dir = await scratchDir();
    const result = await tend(dir, ['status'], { env: outsideGitEnv(dir) });
    expect(result.exitCode).toBe(1);
    expect(result.stdout).toBe('');
    expect(result.stderr).toMatch(/not inside a git repository/);
    expect(result.stderr).toMatch(/tend init/);
  });
});

describe('tend status and the run', () => {
  it('shows an item a dead run left `running` as interrupted, and says how it resumes', async () => {
    const root = await initializedRepo({
      'backlog/build/cut/item.md':
        '---\ntitle: Cut off\npipeline: quick-fix\nstatus: running\nattempts: 1\nowner: host:1\n---\nBody.\n',
    });
    const result = await tend(root, ['status']);
    expect(result.stdout).toMatch(/^ {2}cut\s+p3\s+interrupted\s+att 1/m);
    expect(result.stdout).toContain(
      '1 item(s) were running when the run holding them ended; `tend run` picks them up again',
    );
    expect((await tendJson<{ run: unknown }>(root, ['status'])).run).toBeNull();
  });

  it('names the run working in the checkout, and then `running` means running', async () => {
    const root = await initializedRepo({
      'backlog/build/busy/item.md': '---\ntitle: Busy\npipeline: quick-fix\nstatus: running\nattempts: 1\n---\nBody.\n',
    });
    // A lock naming a live process on this host: this test's own.
    const lock = { pid: process.pid, host: os.hostname(), started: '2026-11-25T03:00:00.000Z' };
    await writeTree(root, { '.tend/run.lock': JSON.stringify(lock) });
    const result = await tend(root, ['status']);
    expect(result.stdout).toMatch(/^ {2}busy\s+p3\s+running\s+att 1/m);
    expect(result.stdout).toContain(
      `tend run is working here (pid ${process.pid} on ${os.hostname()}, since 2026-11-25T03:00:00.000Z)`,
    );
    expect((await tendJson<{ run: unknown }>(root, ['status'])).run).toEqual(lock);
  });
});
