// Hostile YAML and configuration: files a person (or an agent) can write that must each end as
// one clear problem naming the file, the line and a fix, never as a crash, a stack trace or a
// run that stops working; and review verdicts and triage output as models really write them.
import { rename, rm, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { item, itemField, runRepo, settingsFor, tendSubjects } from '../helpers/engine.js';
import { eventually, startLiveRun } from '../helpers/processes.js';
import { git, initializedRepo, read, tend, writeTree } from '../helpers/repo.js';

// Several of these run whole pipelines or a live run, a dozen tend commands each: on a loaded
// machine that outlasts the default 30 s per test. Each wait inside is bounded on its own.
vi.setConfig({ testTimeout: 120_000 });

/** Six levels of nine-fold aliases: 9^5 copies of a string once expanded. */
const ALIAS_BOMB = [
  'a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]',
  'b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]',
  'c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]',
  'd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]',
  'e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]',
  'f: [*e, *e, *e, *e, *e, *e, *e, *e, *e]',
].join('\n');

/** An item whose frontmatter is a title and then the bomb: the first alias is on line 4. */
const BOMB_ITEM = `---\ntitle: Bomb\n${ALIAS_BOMB}\n---\nBody.\n`;

const STACK_TRACE = /\n\s+at .+:\d+:\d+/;

interface InvalidEntry {
  path: string;
  problems: { file: string; line: number | null; message: string; fix: string | null }[];
}

async function invalidEntries(root: string): Promise<InvalidEntry[]> {
  const result = await tend(root, ['status', '--json']);
  expect(result.exitCode).toBe(0);
  return (JSON.parse(result.stdout) as { invalid: InvalidEntry[] }).invalid;
}

describe('a YAML alias bomb ("billion laughs")', () => {
  it('in an inbox file and an item.md: each is one invalid entry with its line and a fix; status, show, add, doctor and run go on', async () => {
    const root = await runRepo('write-artifact.mjs', {
      'backlog/bomb.md': BOMB_ITEM,
      'backlog/triage/boom/item.md': BOMB_ITEM,
      'backlog/good.md': item('Good', 'pipeline: quick-fix\n'),
    });
    const invalid = await invalidEntries(root);
    expect(invalid.map((i) => i.path).sort()).toEqual(['backlog/bomb.md', 'backlog/triage/boom/item.md']);
    for (const entry of invalid) {
      expect(entry.problems).toEqual([
        {
          file: entry.path,
          line: 4,
          key: null,
          message: expect.stringMatching(/alias/i),
          fix: expect.stringMatching(/alias/),
        },
      ]);
    }
    const show = await tend(root, ['show', 'bomb']);
    expect(show.exitCode).toBe(0);
    expect(show.stdout).toContain('backlog/bomb.md:4');
    const doctor = await tend(root, ['doctor']);
    expect(doctor.stdout).toContain('backlog/triage/boom/item.md:4');
    expect(doctor.stdout + doctor.stderr).not.toMatch(STACK_TRACE);
    const add = await tend(root, ['add', 'Another item']);
    expect(add.exitCode).toBe(0);
    const run = await tend(root, ['run', '--once']);
    expect(run.stderr).not.toMatch(STACK_TRACE);
    expect(run.exitCode).toBe(0);
    expect(await tendSubjects(root)).toContain('tend: good review -> done');
  });

  it('in ORCHESTRATOR.md or a pipeline: doctor and run name the file and line, with no stack trace', async () => {
    for (const file of ['ORCHESTRATOR.md', 'pipelines/bombed.md']) {
      const root = await runRepo('write-artifact.mjs');
      const before =
        file === 'ORCHESTRATOR.md'
          ? (await read(root, file)).replace(/^---\n/, '')
          : 'phases: [{ name: build }]\n---\n';
      await writeFile(path.join(root, file), `---\n${ALIAS_BOMB}\n${before}`);
      for (const command of [['doctor'], ['run', '--once'], ['status']]) {
        const result = await tend(root, command);
        const output = result.stdout + result.stderr;
        expect(output, `tend ${command.join(' ')} with a bomb in ${file}`).toContain(`${file}:3`);
        expect(output).not.toMatch(STACK_TRACE);
      }
      expect((await tend(root, ['run', '--once'])).exitCode).toBe(1);
    }
  });

  it('in the text given to `tend add`: refused with the line and a fix, nothing written', async () => {
    const root = await runRepo('write-artifact.mjs');
    const result = await tend(root, ['add', 'Bombed', '-'], { input: BOMB_ITEM });
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toMatch(/the item text has a problem \(line 4\): .*alias/i);
    expect(result.stderr).toMatch(/fix: .*alias/);
    expect(result.stderr).not.toMatch(STACK_TRACE);
    expect(await git(root, 'status', '--porcelain')).toBe('');
  });

  it('in a triage artifact: the item moves on and its warning names the file and line', async () => {
    const root = await runRepo('write-given-text.mjs', {
      'backlog/sorted.md': item('Sorted', 'pipeline: quick-fix\n'),
    });
    const result = await tend(root, ['run', '--once'], {
      env: { FAKE_TEXT_TRIAGE: `---\npipeline: coding\n${ALIAS_BOMB}\n---\n# Triage\n` },
    });
    expect(result.stderr).not.toMatch(STACK_TRACE);
    expect(result.exitCode).toBe(0);
    expect(await tendSubjects(root)).toContain('tend: sorted review -> done');
    expect(await itemField(root, 'backlog/done/sorted/item.md', 'warning')).toMatch(
      /backlog\/triage\/sorted\/triage\.md:4: .*alias.*nothing it chose was applied/i,
    );
  });
});

describe('a live run meeting a bad file', () => {
  it('an alias bomb dropped into the inbox: reported with its path, the run keeps its lock and goes on with other items, before and after it is removed', async () => {
    const root = await runRepo('write-artifact.mjs');
    const run = startLiveRun(root);
    const subjects = () => tendSubjects(root);
    await eventually(run.output, (o) => o.includes('watching backlog/'), 'the watcher to be ready', 30_000);

    await writeFile(path.join(root, 'backlog/bomb.md'), BOMB_ITEM);
    await eventually(run.output, (o) => o.includes('backlog/bomb.md:4'), 'the bomb to be reported', 30_000);
    await writeFile(path.join(root, 'backlog/first.md'), item('First', 'pipeline: quick-fix\n'));
    await eventually(subjects, (s) => s.includes('tend: first review -> done'), 'first to be done', 30_000);
    // Still the one run: a second one is refused.
    const second = await tend(root, ['run', '--once']);
    expect(second.exitCode).toBe(1);
    expect(second.stderr).toMatch(/another tend run/);

    await rm(path.join(root, 'backlog/bomb.md'));
    await writeFile(path.join(root, 'backlog/second.md'), item('Second', 'pipeline: quick-fix\n'));
    await eventually(subjects, (s) => s.includes('tend: second review -> done'), 'second to be done', 30_000);
    expect(run.output()).not.toMatch(STACK_TRACE);
    run.child.kill('SIGTERM');
    expect(await run.exited).toBe(143);
  });
});

/** Frontmatter texts no person means to write; each must be one invalid entry. */
const HOSTILE_FRONTMATTER: Record<string, { yaml: string; line: number; message: RegExp }> = {
  'deep nesting': {
    yaml: `title: Deep\nx: ${'['.repeat(5000)}${']'.repeat(5000)}\n`,
    line: 3,
    message: /invalid YAML/,
  },
  'a huge key': { yaml: `title: Key\n${'k'.repeat(5000)}: 1\n`, line: 3, message: /invalid YAML/ },
  'a !!js/function tag': {
    yaml: 'title: Tagged\nrun: !!js/function "function () { return 1 }"\n',
    line: 3,
    message: /unknown YAML tag !!js\/function/,
  },
  'a custom !foo tag': { yaml: 'title: !foo Tagged\n', line: 2, message: /unknown YAML tag !foo/ },
  'a duplicate key': {
    yaml: 'title: One\npriority: 2\ntitle: Two\n',
    line: 4,
    message: /title appears more than once/,
  },
  'a list': { yaml: '- title\n- priority\n', line: 2, message: /frontmatter is a list/ },
  'a single value': { yaml: 'just a sentence\n', line: 2, message: /frontmatter is a single value/ },
  // Just under the 1 MiB a whole item file may have (a larger file is refused before parsing).
  '1000 KiB of frontmatter': {
    yaml: `title: Big\nnotes: "${'x'.repeat(1000 * 1024)}"\n`,
    line: 2,
    message: /1001 KiB, more than the 256 KiB allowed/,
  },
};

describe('hostile frontmatter in an inbox file', () => {
  it('deep nesting, a huge key, unknown tags, a duplicate key, a list, a scalar, 1000 KiB, no closing fence: each is one invalid entry with file, line and fix', async () => {
    const root = await initializedRepo();
    const files: Record<string, string> = { 'backlog/unclosed.md': '---\ntitle: Never closed\n\nBody.\n' };
    const names = Object.keys(HOSTILE_FRONTMATTER);
    names.forEach(
      (name, i) => (files[`backlog/hostile-${i}.md`] = `---\n${HOSTILE_FRONTMATTER[name]?.yaml}---\nBody.\n`),
    );
    await writeTree(root, files);
    const status = await tend(root, ['status']);
    expect(status.exitCode).toBe(0);
    expect(status.stderr).not.toMatch(STACK_TRACE);
    const invalid = new Map((await invalidEntries(root)).map((i) => [i.path, i.problems]));
    expect(invalid.size).toBe(names.length + 1);
    names.forEach((name, i) => {
      const expected = HOSTILE_FRONTMATTER[name];
      const file = `backlog/hostile-${i}.md`;
      expect(invalid.get(file), name).toEqual([
        expect.objectContaining({
          file,
          line: expected?.line,
          message: expect.stringMatching(expected?.message ?? /./),
          fix: expect.any(String),
        }),
      ]);
    });
    expect(invalid.get('backlog/unclosed.md')).toEqual([
      expect.objectContaining({ line: 1, message: expect.stringMatching(/never closed/), fix: expect.any(String) }),
    ]);
    const run = await tend(root, ['run', '--once', '--agent', 'dry-run']);
    expect(run.exitCode).toBe(0);
    expect(await git(root, 'status', '--porcelain', '--', 'backlog')).toContain('backlog/hostile-0.md');
  });
});

const REVIEWED =
  '---\nphases:\n  - { name: build }\n  - { name: review, on_reject: build, max_loops: 1 }\n---\nBuild, then one review.\n';
const FANNED =
  '---\nphases:\n  - { name: build }\n  - { name: review, fanout: [correctness, tests], on_reject: build, max_loops: 1 }\n---\nBuild, then a two-lens review.\n';

async function reviewRepo(): Promise<string> {
  return runRepo('write-given-text.mjs', {
    'pipelines/reviewed.md': REVIEWED,
    'pipelines/fanned.md': FANNED,
    'backlog/one.md': item('One', 'pipeline: reviewed\n'),
    'backlog/many.md': item('Many', 'pipeline: fanned\n'),
  });
}

describe('review verdicts as a model writes them', () => {
  it('`**Verdict:** APPROVED` in a review and `Verdict — request changes` in a lens count; prose mentioning reject does not', async () => {
    const root = await reviewRepo();
    const result = await tend(root, ['run', '--once'], {
      env: {
        FAKE_TEXT_REVIEW: '# Review\n\n**Verdict:** APPROVED\n\nNothing here I would reject.\n',
        FAKE_TEXT_LENS_TESTS: '# Tests\n\nVerdict — request changes\n\nThe new branch has no test.\n',
      },
    });
    expect(result.exitCode).toBe(0);
    const subjects = await tendSubjects(root);
    expect(subjects).toContain('tend: one review -> done');
    expect(subjects).toContain('tend: many review -> build (rejected, round 1)');
    expect(await read(root, 'backlog/blocked/many/review.md')).toMatch(/\| tests \| reject \|/);
  });

  it('a review with no verdict is a failed attempt with the reason, never a rejection; a lens without one is named', async () => {
    const root = await reviewRepo();
    const result = await tend(root, ['run', '--once'], {
      env: {
        FAKE_TEXT_REVIEW: '# Review\n\nI reject nothing here, but forgot to decide.\n',
        FAKE_TEXT_LENS_CORRECTNESS: '# Correctness\n\nLooks right to me.\n',
      },
    });
    expect(result.exitCode).toBe(0);
    const subjects = await tendSubjects(root);
    expect(subjects.filter((s) => s.includes('rejected'))).toEqual([]);
    expect(subjects).toContain('tend: one review -> blocked (failed 2 times)');
    expect(subjects).toContain('tend: many review -> blocked (failed 2 times)');
    expect(await itemField(root, 'backlog/blocked/one/item.md', 'blocked_reason')).toMatch(
      /review\.md: it gives no verdict; start it with `verdict: approve`/,
    );
    expect(await itemField(root, 'backlog/blocked/many/item.md', 'blocked_reason')).toMatch(
      /lens correctness: .*review-correctness\.md: it gives no verdict/,
    );
    expect(await itemField(root, 'backlog/blocked/many/item.md', 'loops')).toBeUndefined();
  });
});

describe('triage output that cannot be used', () => {
  it('`priority: 9` and labels that are not words: the item moves on, keeps its priority and says why in `warning`', async () => {
    const root = await runRepo('write-given-text.mjs', {
      'backlog/sorted.md': item('Sorted', 'pipeline: quick-fix\npriority: 2\n'),
    });
    const triage = '---\npipeline: quick-fix\npriority: 9\nlabels: [{ a: 1 }]\n---\n# Triage\n';
    expect((await tend(root, ['run', '--once'], { env: { FAKE_TEXT_TRIAGE: triage } })).exitCode).toBe(0);
    const file = 'backlog/done/sorted/item.md';
    expect(await itemField(root, file, 'priority')).toBe('2');
    const warning = await itemField(root, file, 'warning');
    expect(warning).toMatch(/triage chose priority 9, which is not an integer from 1 to 5; the priority was kept/);
    expect(warning).toMatch(/triage chose labels \[\{"a":1\}\], which is not a list of words/);
  });
});

describe('configuration errors', () => {
  it('every error in ORCHESTRATOR.md, the pipelines and the prompts is reported at once, each on its own line', async () => {
    const root = await runRepo('write-artifact.mjs');
    const settings = settingsFor('write-artifact.mjs', { concurrency: 0, retry_backoff: 'soon' });
    const pipeline = [
      '---',
      'phases:',
      '  - { name: triage }',
      '  - { name: build, retries: -1 }',
      '  - { name: review, on_reject: nowhere, agent: ghost }',
      '  - { name: spec, prompt: missing-prompt.md }',
      '---',
      'A pipeline with four mistakes.',
      '',
    ].join('\n');
    await writeTree(root, {
      'ORCHESTRATOR.md': settings,
      'pipelines/broken.md': pipeline,
      'prompts/build.md': `${await read(root, 'prompts/build.md')}\nAlso read {{nonsense}}.\n`,
    });
    const lineOf = (text: string, needle: string) => text.split('\n').findIndex((l) => l.includes(needle)) + 1;
    const promptLine = lineOf(await read(root, 'prompts/build.md'), '{{nonsense}}');
    const doctor = await tend(root, ['doctor']);
    expect(doctor.exitCode).toBe(1);
    for (const expected of [
      `ORCHESTRATOR.md:${lineOf(settings, 'concurrency:')}: concurrency:`,
      `ORCHESTRATOR.md:${lineOf(settings, 'retry_backoff:')}: retry_backoff:`,
      'pipelines/broken.md:4: phases[1].retries:',
      'pipelines/broken.md:5: phases[2].on_reject: must name an earlier phase',
      'pipelines/broken.md:5: phases[2]: unknown agent "ghost"',
      'pipelines/broken.md:6: phases[3].prompt: prompt file prompts/missing-prompt.md does not exist',
      `prompts/build.md:${promptLine}: unknown template variable {{nonsense}}`,
    ]) {
      expect(doctor.stdout).toContain(expected);
    }
  });
});

describe('a pass of the run loop that fails', () => {
  it('backlog/ replaced by a symlink during a live run: reported, the run keeps its lock, and goes on once backlog/ is back', async () => {
    const root = await runRepo('write-artifact.mjs');
    const run = startLiveRun(root);
    const subjects = () => tendSubjects(root);
    await eventually(run.output, (o) => o.includes('watching backlog/'), 'the watcher to be ready', 30_000);

    await rename(path.join(root, 'backlog'), path.join(root, 'real-backlog'));
    await symlink('real-backlog', path.join(root, 'backlog'));
    await eventually(run.output, (o) => o.includes('backlog/ is a symlink'), 'the failed pass to be reported', 30_000);
    const second = await tend(root, ['run', '--once']);
    expect(second.stderr).toMatch(/another tend run/);

    await rm(path.join(root, 'backlog'));
    await rename(path.join(root, 'real-backlog'), path.join(root, 'backlog'));
    await writeFile(path.join(root, 'backlog/after.md'), item('After', 'pipeline: quick-fix\n'));
    await eventually(subjects, (s) => s.includes('tend: after review -> done'), 'after to be done', 30_000);
    expect(run.output()).not.toMatch(STACK_TRACE);
    run.child.kill('SIGTERM');
    expect(await run.exited).toBe(143);
  });
});
