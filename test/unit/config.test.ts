// The configuration checked as a whole, from texts alone: what each file's mistakes become, and
// which mistakes are reported once rather than once per phase.
import { describe, expect, it } from 'vitest';
import {
  checkConfig,
  LEADS_OUTSIDE,
  promptsNamed,
  type PipelineFile,
  type PromptText,
} from '../../src/core/config-check.js';
import { DEFAULT_SETTINGS } from '../../src/core/settings.js';

const pipeline = (name: string, phases: string[], body = 'When to choose it.'): PipelineFile => ({
  name,
  text: `---\nphases:\n${phases.map((p) => `  - ${p}\n`).join('')}---\n${body}\n`,
});

const settings = (yaml: string, context = 'The project.') => `---\n${yaml}\n---\n${context}\n`;

/** Prompts by path; every one not listed is missing. */
const promptsOf =
  (texts: Record<string, PromptText>) =>
  (rel: string): PromptText =>
    texts[rel];

const quick = pipeline('quick-fix.md', [
  '{ name: build, artifact: build.md }',
  '{ name: review, artifact: review.md }',
]);
const prompts = { 'prompts/build.md': 'Build {{title}}.', 'prompts/review.md': 'Review it.' };

describe('checkConfig', () => {
  it('gives the configuration with no problem for files that agree with each other', () => {
    const loaded = checkConfig({
      settings: settings('agent: dry-run\ndefault_pipeline: quick-fix'),
      pipelines: [quick],
      prompt: promptsOf(prompts),
    });
    expect(loaded.errors).toEqual([]);
    expect(loaded.warnings).toEqual([]);
    expect(loaded.config.context.trim()).toBe('The project.');
    expect(loaded.config.settings.agent).toBe('dry-run');
    expect([...loaded.config.pipelines.keys()]).toEqual(['quick-fix']);
    expect(loaded.config.prompts).toEqual(new Map(Object.entries(prompts)));
  });

  it('takes every default, with a warning, when ORCHESTRATOR.md is missing', () => {
    const loaded = checkConfig({ settings: undefined, pipelines: [], prompt: promptsOf({}) });
    expect(loaded.config.settings).toEqual(DEFAULT_SETTINGS);
    expect(loaded.warnings).toEqual([
      { file: 'ORCHESTRATOR.md', message: 'missing; every setting takes its default', fix: 'run `tend init`' },
    ]);
    expect(loaded.errors).toEqual([
      {
        file: 'pipelines/',
        message: 'no pipeline found',
        fix: 'run `tend init` to install the default pipelines',
      },
    ]);
  });

  it('reports a missing prompt once per pipeline, at the phase that names it', () => {
    const twice = pipeline('twice.md', [
      '{ name: build, artifact: a.md }',
      '{ name: build2, prompt: prompts/build.md }',
    ]);
    const loaded = checkConfig({
      settings: settings('agent: dry-run\ndefault_pipeline: twice'),
      pipelines: [twice],
      prompt: promptsOf({}),
    });
    expect(loaded.errors).toEqual([
      {
        file: 'pipelines/twice.md',
        line: 3,
        key: 'phases[0].prompt',
        message: 'prompt file prompts/build.md does not exist',
        fix: 'create it, or run `tend init` to install the default prompts',
      },
    ]);
  });

  it('refuses a prompt the reader found to lead outside prompts/, naming the prompt file', () => {
    const loaded = checkConfig({
      settings: settings('agent: dry-run\ndefault_pipeline: quick-fix'),
      pipelines: [quick],
      prompt: promptsOf({ ...prompts, 'prompts/review.md': LEADS_OUTSIDE }),
    });
    expect(loaded.errors).toEqual([
      {
        file: 'prompts/review.md',
        message: 'is a symlink that leads outside prompts/',
        fix: 'replace it with the file itself',
      },
    ]);
    expect([...loaded.config.prompts.keys()]).toEqual(['prompts/build.md']);
  });

  it('reports unknown template variables with their line in the prompt', () => {
    const loaded = checkConfig({
      settings: settings('agent: dry-run\ndefault_pipeline: quick-fix'),
      pipelines: [quick],
      prompt: promptsOf({ ...prompts, 'prompts/review.md': 'Review it.\n{{colour}}\n' }),
    });
    expect(loaded.errors).toEqual([
      {
        file: 'prompts/review.md',
        line: 2,
        message: 'unknown template variable {{colour}}',
        fix: 'see "Prompt variables" in the README',
      },
    ]);
  });

  it('reports agents, default pipeline and placeholders that refer to nothing, in file order', () => {
    const strange = pipeline('quick-fix.md', ['{ name: build, artifact: build.md, agent: nobody }']);
    const loaded = checkConfig({
      settings: settings(
        [
          'agent: somebody',
          'default_pipeline: coding',
          'agents:',
          '  mine: { type: command }',
          '  other: { type: command, command: [other, "{prompt_fil}"] }',
        ].join('\n'),
      ),
      pipelines: [strange],
      prompt: promptsOf(prompts),
    });
    expect(loaded.errors.map((e) => [e.file, e.key, e.message])).toEqual([
      ['pipelines/quick-fix.md', 'phases[0]', 'unknown agent "nobody"'],
      ['ORCHESTRATOR.md', 'default_pipeline', 'no pipeline named "coding"'],
      ['ORCHESTRATOR.md', 'agent', 'unknown agent "somebody"'],
      ['ORCHESTRATOR.md', 'agents.mine.command', 'a command agent needs `command:`'],
      ['ORCHESTRATOR.md', 'agents.other', 'unknown placeholder {prompt_fil}'],
    ]);
    expect(loaded.errors[1]?.fix).toBe('choose one of quick-fix');
  });

  it('still checks the valid phases of a pipeline with errors: their prompts and agents', () => {
    const broken = pipeline('broken.md', ['{ name: build, artifact: build.md, agent: nobody }', '{ name: Bad }']);
    const loaded = checkConfig({
      settings: settings('agent: dry-run\ndefault_pipeline: broken'),
      pipelines: [broken],
      prompt: promptsOf({}),
    });
    expect(loaded.config.pipelines.size).toBe(0);
    const messages = loaded.errors.map((e) => e.message);
    expect(messages).toContain('unknown agent "nobody"');
    expect(messages).toContain('prompt file prompts/build.md does not exist');
  });
});

describe('promptsNamed', () => {
  it('lists each prompt the pipelines name once, valid phases of broken pipelines included', () => {
    const broken = pipeline('broken.md', ['{ name: build, artifact: b.md }', '{ name: Bad }']);
    const custom = pipeline('custom.md', ['{ name: plan, artifact: p.md, prompt: prompts/careful.md }']);
    expect(promptsNamed([quick, broken, custom])).toEqual([
      'prompts/build.md',
      'prompts/review.md',
      'prompts/careful.md',
    ]);
  });
});

describe('promptsNamed then checkConfig on the same files (each file parsed once)', () => {
  it('reports a broken pipeline once, as checkConfig alone does', () => {
    const files = () => [quick, pipeline('broken.md', ['{ name: build, artifact: b.md }', '{ name: Bad }'])];
    const alone = checkConfig({ settings: settings('agent: dry-run'), pipelines: files(), prompt: promptsOf(prompts) });
    const same = files();
    promptsNamed(same);
    const after = checkConfig({ settings: settings('agent: dry-run'), pipelines: same, prompt: promptsOf(prompts) });
    expect(after.errors).toEqual(alone.errors);
    expect(after.errors.length).toBeGreaterThan(0);
    expect([...after.config.pipelines.keys()]).toEqual(['quick-fix']);
  });

  it('parses a file again when its text changed since', () => {
    const file = pipeline('edited.md', ['{ name: build, artifact: b.md }']);
    expect(promptsNamed([file])).toEqual(['prompts/build.md']);
    file.text = pipeline('edited.md', ['{ name: plan, artifact: p.md, prompt: prompts/plan.md }']).text;
    expect(promptsNamed([file])).toEqual(['prompts/plan.md']);
  });
});
