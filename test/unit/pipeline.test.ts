// Pipeline files: the packaged ones parse, and every mistake names the file and the key.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  inPipelineOrder,
  lensArtifact,
  parsePipeline,
  phaseIndexOfArtifact,
  staleAfterEdit,
} from '../../src/core/pipeline.js';

const packaged = (name: string) => {
  const file = `pipelines/${name}.md`;
  return parsePipeline(name, readFileSync(new URL(`../../${file}`, import.meta.url), 'utf8'), file);
};

/** Errors of a pipeline whose frontmatter is `yaml`. */
const errorsOf = (yaml: string) => parsePipeline('p', `---\n${yaml}---\nWhen to choose it.\n`, 'pipelines/p.md').errors;

describe('packaged pipelines', () => {
  it('coding has the eight phases in order and a nine-lens review', () => {
    const { pipeline, errors } = packaged('coding');
    expect(errors).toEqual([]);
    expect(pipeline?.phases.map((p) => p.name)).toEqual([
      'triage',
      'research',
      'prd',
      'tech-research',
      'design',
      'spec',
      'build',
      'review',
    ]);
    const review = pipeline?.phases.at(-1);
    expect(review?.fanout).toHaveLength(9);
    expect(review).toMatchObject({
      on_reject: 'build',
      max_loops: 2,
      prompt: 'prompts/review.md',
      artifact: 'review.md',
      workspace: 'worktree',
    });
    expect(pipeline?.phases.find((p) => p.name === 'build')).toMatchObject({ timeout: 60 * 60_000, approve: false });
    expect(pipeline?.concurrency).toEqual({ build: 2 });
    expect(pipeline?.description).toMatch(/^The full engineering pipeline/);
  });

  it('quick-fix parses', () => {
    const { pipeline, errors } = packaged('quick-fix');
    expect(errors).toEqual([]);
    expect(pipeline?.phases.map((p) => p.name)).toEqual(['triage', 'build', 'review']);
  });
});

describe('defaults of a phase', () => {
  it('prompt from prompts/<name>.md and artifact <name>.md; a prompt path is taken inside prompts/', () => {
    const { pipeline } = parsePipeline(
      'p',
      '---\nphases:\n  - { name: a }\n  - { name: b, prompt: prompts/sub/b2.md, artifact: B.md }\n---\n',
      'pipelines/p.md',
    );
    expect(pipeline?.phases.map((p) => [p.prompt, p.artifact, p.approve])).toEqual([
      ['prompts/a.md', 'a.md', false],
      ['prompts/sub/b2.md', 'B.md', false],
    ]);
  });
});

describe('mistakes', () => {
  it.each([
    [
      'on_reject naming a later phase',
      '  - { name: build, on_reject: review }\n  - { name: review }\n',
      'phases[0].on_reject',
      /earlier phase.*"review"/,
    ],
    [
      'on_reject naming an unknown phase',
      '  - { name: build }\n  - { name: review, on_reject: biuld }\n',
      'phases[1].on_reject',
      /earlier phase.*"biuld"/,
    ],
    ['a duplicate phase', '  - { name: build }\n  - { name: build }\n', 'phases[1].name', /build appears twice/],
    ['a reserved phase name', '  - { name: done }\n', 'phases[0].name', /done is reserved for backlog\/done\//],
    ['an unknown phase key', '  - { name: prd, aprove: true }\n', 'phases[0]', /unknown key aprove/],
    [
      'a prompt path with ..',
      '  - { name: build, prompt: ../secrets.md }\n',
      'phases[0].prompt',
      /inside prompts\/, found "\.\.\/secrets\.md"/,
    ],
    ['an absolute prompt path', '  - { name: build, prompt: /etc/passwd }\n', 'phases[0].prompt', /inside prompts\//],
    ['an artifact called item.md', '  - { name: build, artifact: item.md }\n', 'phases[0].artifact', /item itself/],
    ['a bad phase timeout', '  - { name: build, timeout: soon }\n', 'phases[0].timeout', /duration.*"soon"/],
  ])('%s', (_what, phases, key, message) => {
    const errors = errorsOf(`phases:\n${phases}`);
    expect(errors).toHaveLength(1);
    // The line of the phase at fault: `phases:` is line 2, phases[0] line 3.
    const line = 3 + Number(/\[(\d+)\]/.exec(key)?.[1]);
    expect(errors[0]).toMatchObject({ file: 'pipelines/p.md', line, key, message: expect.stringMatching(message) });
  });

  it('concurrency for an unknown phase', () => {
    expect(errorsOf('phases:\n  - { name: build }\nconcurrency: { biuld: 2 }\n')).toEqual([
      { file: 'pipelines/p.md', line: 4, key: 'concurrency.biuld', message: 'names no phase of this pipeline' },
    ]);
  });

  it('a pipeline without phases, and a file name that is not a slug', () => {
    expect(errorsOf('phases: []\n')).toEqual([
      expect.objectContaining({ key: 'phases', message: expect.stringMatching(/at least one phase/) }),
    ]);
    expect(errorsOf('concurrency: {}\n')).toEqual([expect.objectContaining({ key: 'phases' })]);
    expect(parsePipeline('Quick Fix', '---\nphases: [{ name: a }]\n---\n', 'pipelines/Quick Fix.md').errors).toEqual([
      { file: 'pipelines/Quick Fix.md', message: expect.stringMatching(/lowercase slug/) },
    ]);
  });

  it('reports a schema error and the mistakes of the valid phases together, each on its own line', () => {
    const parsed = parsePipeline(
      'p',
      '---\nphases:\n  - { name: a }\n  - { name: b, retries: -1 }\n  - { name: c, on_reject: zz }\n---\n',
      'pipelines/p.md',
    );
    expect(parsed.errors).toEqual([
      expect.objectContaining({ line: 4, key: 'phases[1].retries' }),
      expect.objectContaining({ line: 5, key: 'phases[2].on_reject' }),
    ]);
    expect(parsed.pipeline).toBeUndefined();
    expect(parsed.partial?.phases.map((p) => p.name)).toEqual(['a', 'c']);
    expect(parsed.partial?.phaseAt).toEqual([
      { index: 0, line: 3 },
      { index: 2, line: 5 },
    ]);
  });

  it('reports several mistakes at once', () => {
    const errors = errorsOf(
      'phases:\n  - { name: done }\n  - { name: b, on_reject: c }\n  - { name: b }\nconcurrency: { x: 1 }\n',
    );
    expect(errors.map((e) => e.key)).toEqual([
      'phases[0].name',
      'phases[1].on_reject',
      'phases[2].name',
      'concurrency.x',
    ]);
  });
});

describe('which phase wrote an artifact', () => {
  const coding = packaged('coding').pipeline!;

  it("each phase's artifact, and a fan-out lens's, belong to their phase; other files to none", () => {
    expect(lensArtifact('review.md', 'security')).toBe('review-security.md');
    expect(lensArtifact('notes', 'docs')).toBe('notes-docs');
    expect(phaseIndexOfArtifact(coding, 'PRD.md')).toBe(2);
    expect(phaseIndexOfArtifact(coding, 'review.md')).toBe(7);
    expect(phaseIndexOfArtifact(coding, 'review-security.md')).toBe(7);
    expect(phaseIndexOfArtifact(coding, 'review-nobody.md')).toBe(-1);
    expect(phaseIndexOfArtifact(coding, 'item.md')).toBe(-1);
    expect(inPipelineOrder(coding, ['notes.md', 'spec.md', 'PRD.md'])).toEqual(['PRD.md', 'spec.md', 'notes.md']);
  });

  it('an edit makes the later artifacts present stale, lens files included', () => {
    const present = ['PRD.md', 'build.md', 'design.md', 'review-tests.md', 'review.md', 'notes.md'];
    expect(staleAfterEdit(coding, ['design.md'], present)).toEqual({
      source: 'design.md',
      stale: ['build.md', 'review-tests.md', 'review.md'],
    });
    expect(staleAfterEdit(coding, ['review-tests.md'], present)).toBeUndefined();
    expect(staleAfterEdit(coding, ['notes.md'], present)).toBeUndefined();
  });
});
