// `tend run --once` end to end with the real binary: the coding pipeline with dry-run, and the
// commits it leaves behind.
import { describe, expect, it } from 'vitest';
import { filesIn, item, itemField, runRepo, tendSubjects } from '../helpers/engine.js';
import { commitCount, git, initializedRepo, read, scratchDir, tend, tendJson, writeTree } from '../helpers/repo.js';

const CODING = ['triage', 'research', 'prd', 'tech-research', 'design', 'spec', 'build', 'review'];
const LENSES = ['correctness', 'security', 'tests', 'performance', 'simplicity', 'docs', 'api', 'errors', 'style'];

describe('tend run --once with dry-run over the coding pipeline', () => {
  it(
    'takes three items through every phase in priority order, one commit per transition',
    { timeout: 90_000 },
    async () => {
      const root = await initializedRepo({
        'backlog/low.md': item('Low priority thing', 'priority: 4\n'),
        'backlog/urgent.md': item('Urgent fix', 'priority: 1\n'),
        'backlog/middle.md': '# Middle thing\n\nNo frontmatter at all.\n',
        'notes.txt': 'the user is editing this\n',
        'staged.txt': 'the user staged this\n',
      });
      await git(root, 'add', 'staged.txt');

      const result = await tend(root, ['run', '--once', '--agent', 'dry-run']);
      expect(result.stderr).toBe('');
      expect(result.exitCode).toBe(0);
      expect(result.stdout).toMatch(/done: /);

      const board = await tendJson<{ items: { id: string; location: string }[] }>(root, ['status']);
      expect(board.items.map((i) => [i.id, i.location]).sort()).toEqual([
        ['low', 'done'],
        ['middle', 'done'],
        ['urgent', 'done'],
      ]);
      const artifacts = [
        ...CODING.filter((p) => p !== 'triage').map((p) => (p === 'prd' ? 'PRD.md' : `${p}.md`)),
        'triage.md',
        ...LENSES.map((l) => `review-${l}.md`),
        'item.md',
      ];
      for (const id of ['urgent', 'middle', 'low']) {
        expect(await filesIn(root, `backlog/done/${id}`)).toEqual([...artifacts].sort());
        expect(await read(root, `backlog/done/${id}/review.md`)).toMatch(/^---\nverdict: approve\n---/);
      }

      // Exactly: intake, then per phase a claim and a completion, for each item; nothing else.
      const subjects = await tendSubjects(root);
      const expected = (id: string) => [
        `tend: ${id} inbox -> triage`,
        ...CODING.flatMap((p, i) => [
          `tend: ${id} ${p} started (attempt 1)`,
          `tend: ${id} ${p} -> ${CODING[i + 1] ?? 'done'}`,
        ]),
      ];
      expect(subjects.filter((s) => s.startsWith('tend: urgent'))).toEqual(expected('urgent'));
      expect(subjects.filter((s) => s.startsWith('tend: middle'))).toEqual(expected('middle'));
      expect(subjects).toHaveLength(3 * (1 + 2 * CODING.length));
      // Started in priority order: each item's first claim comes before the next item's.
      const firstClaim = (id: string) => subjects.indexOf(`tend: ${id} triage started (attempt 1)`);
      expect(firstClaim('urgent')).toBeLessThan(firstClaim('middle'));
      expect(firstClaim('middle')).toBeLessThan(firstClaim('low'));

      // Trailers a tool can parse.
      const trailers = await git(
        root,
        'log',
        '-1',
        '--format=%(trailers:only,unfold)',
        '--all-match',
        '--grep=^Tend-Outcome: done$',
        '--grep=urgent review',
      );
      expect(trailers).toMatch(
        /Tend-Item: urgent\nTend-Phase: review\nTend-Outcome: done\nTend-Agent: dry-run\nTend-Duration: \d+s\nTend-Cost-USD: 0\.00/,
      );

      // The user's own work: still staged, still unstaged, in no tend commit.
      expect((await git(root, 'diff', '--cached', '--name-only')).trim()).toBe('staged.txt');
      expect(await git(root, 'status', '--porcelain', '--', 'notes.txt')).toBe('?? notes.txt');
      const touched = await git(root, 'log', '--format=', '--name-only', '--grep=^Tend-Item:');
      expect(
        touched
          .split('\n')
          .filter(Boolean)
          .every((f) => f.startsWith('backlog/')),
      ).toBe(true);
      // Nothing left uncommitted under backlog/.
      expect(await git(root, 'status', '--porcelain', '--', 'backlog')).toBe('');
    },
  );

  it('exits 0 with nothing to do and makes no commit', async () => {
    const root = await initializedRepo();
    const before = await commitCount(root);
    const result = await tend(root, ['run', '--once', '--agent', 'dry-run']);
    expect(result.exitCode).toBe(0);
    expect(result.stdout).toMatch(/^0 transitions/m);
    expect(await commitCount(root)).toBe(before);
  });

  it('fills in defaults at intake and keeps the human text and unknown keys', async () => {
    const root = await runRepo('write-artifact.mjs', {
      'backlog/keep-me.md':
        '---\ntitle: Keep me\nteam: platform # who owns it\npipeline: quick-fix\n---\nLine one.\n\n  indented line\n',
    });
    const result = await tend(root, ['run', '--once']);
    expect(result.exitCode).toBe(0);
    const text = await read(root, 'backlog/done/keep-me/item.md');
    expect(text).toContain('team: platform # who owns it\n');
    expect(text).toContain('\n---\nLine one.\n\n  indented line\n');
    expect(text).toMatch(/^status: queued$/m);
    expect(text).toMatch(/^created: \d{4}-\d\d-\d\dT/m);
    const intake = await git(root, 'show', '--stat', '--format=%s', ':/inbox -> triage');
    expect(intake).toContain('backlog/{keep-me.md => triage/keep-me/item.md}');
  });

  it('triage can choose the pipeline; an unknown choice falls back to the default with a warning', async () => {
    const root = await runRepo('write-artifact.mjs', { 'backlog/a.md': item('A') });
    const chosen = await tend(root, ['run', '--once'], { env: { FAKE_PIPELINE: 'quick-fix' } });
    expect(chosen.exitCode).toBe(0);
    const subjects = await tendSubjects(root);
    expect(subjects).toContain('tend: a triage -> build');
    expect(await read(root, 'backlog/done/a/item.md')).toMatch(/^pipeline: quick-fix$/m);

    await writeTree(root, { 'backlog/b.md': item('B') });
    const unknown = await tend(root, ['run', '--once'], { env: { FAKE_PIPELINE: 'no-such-pipeline' } });
    expect(unknown.exitCode).toBe(0);
    const b = await read(root, 'backlog/done/b/item.md');
    expect(b).toMatch(/^pipeline: coding$/m);
    expect(b).toMatch(/^warning: .*no-such-pipeline.*$/m);
  });
});

describe('a fan-out phase', () => {
  const look = (more = '') =>
    `---\nphases:\n  - { name: look, prompt: build.md, artifact: look.md, fanout: [one, two, three]${more} }\n---\nLook.\n`;

  it("in a worktree phase runs the lenses of one item side by side at concurrency 1; each lens's artifact lands; Tend-Duration is the phase's wall time", async () => {
    const times = await scratchDir();
    const root = await runRepo(
      'lens-times.mjs',
      { 'pipelines/look.md': look(', workspace: worktree'), 'backlog/thing.md': item('Thing', 'pipeline: look\n') },
      { concurrency: 1 },
    );
    // Each lens holds 2.2 s after all have started, so the phase's wall time is at least 2 whole seconds.
    const env = { FAKE_TIMES: times, FAKE_LENSES: 'one,two,three', FAKE_HOLD_MS: '2200' };
    const result = await tend(root, ['run', '--once'], { env });
    expect(result.exitCode, result.stderr).toBe(0);
    const spans = await Promise.all(
      ['one', 'two', 'three'].map(async (lens) => (await read(times, `${lens}.times`)).trim().split('\n').map(Number)),
    );
    const starts = spans.map(([start = 0]) => start);
    const ends = spans.map(([, end = 0]) => end);
    // Side by side: every lens started before the first one ended.
    expect(Math.max(...starts)).toBeLessThan(Math.min(...ends));
    expect(await filesIn(root, 'backlog/done/thing')).toEqual([
      'item.md',
      'look-one.md',
      'look-three.md',
      'look-two.md',
      'look.md',
    ]);
    expect(await read(root, 'backlog/done/thing/look-two.md')).toContain('Reviewed through the two lens.');
    const merged = await read(root, 'backlog/done/thing/look.md');
    expect(merged).toMatch(/^\| two \| approve \| two \| look-two\.md \|$/m);
    expect(merged).toContain('## three\n\n# three\n\nReviewed through the three lens.');
    const duration = await git(
      root,
      'log',
      '-1',
      '--format=%(trailers:key=Tend-Duration,valueonly)',
      '--grep=^Tend-Outcome: done$',
    );
    const seconds = Number(/^(\d+(?:\.\d+)?)s$/.exec(duration.trim())?.[1]);
    const spanMs = Math.max(...ends) - Math.min(...starts);
    expect(spanMs).toBeGreaterThanOrEqual(2200);
    expect(seconds * 1000).toBeGreaterThanOrEqual(Math.floor(spanMs / 1000) * 1000);
    expect(seconds).toBeGreaterThanOrEqual(2);
  });

  it("in a repo phase the lenses take turns in the user's checkout, in the fan-out's order", async () => {
    const times = await scratchDir();
    const root = await runRepo(
      'lens-times.mjs',
      { 'pipelines/look.md': look(), 'backlog/thing.md': item('Thing', 'pipeline: look\n') },
      { concurrency: 1 },
    );
    const result = await tend(root, ['run', '--once'], { env: { FAKE_TIMES: times } });
    expect(result.exitCode, result.stderr).toBe(0);
    const spans = await Promise.all(
      ['one', 'two', 'three'].map(async (lens) => (await read(times, `${lens}.times`)).trim().split('\n').map(Number)),
    );
    // One after another: each lens started once the one before it had ended.
    for (const [i, [start = 0]] of spans.entries())
      if (i > 0) expect(start).toBeGreaterThanOrEqual(spans[i - 1]?.[1] ?? 0);
    for (const lens of ['one', 'two', 'three']) expect(await read(times, `${lens}.cwd`)).toBe(root);
    expect(await read(root, 'backlog/done/thing/look.md')).toMatch(
      /^\| three \| approve \| three \| look-three\.md \|$/m,
    );
  });

  it('a lens that fails fails the attempt, and the reason names the lens', async () => {
    const times = await scratchDir();
    const root = await runRepo(
      'lens-times.mjs',
      { 'pipelines/look.md': look(), 'backlog/thing.md': item('Thing', 'pipeline: look\n') },
      { concurrency: 1, retries: 0 },
    );
    const env = { FAKE_TIMES: times, FAKE_FAIL_LENS: 'two' };
    const result = await tend(root, ['run', '--once'], { env });
    expect(result.exitCode, result.stderr).toBe(0);
    expect(await itemField(root, 'backlog/blocked/thing/item.md', 'blocked_reason')).toMatch(
      /^look failed once; last: lens two: the agent exited with code 3/,
    );
    expect(await tendSubjects(root)).toEqual([
      'tend: thing inbox -> look',
      'tend: thing look started (attempt 1)',
      'tend: thing look -> blocked (failed once)',
    ]);
  });
});
