// The one prompt an agent receives: context, rendered phase instructions, the item, and where to
// write.
import { describe, expect, it } from 'vitest';
import { pipelineList, renderPrompt, type PromptInput } from '../../src/core/prompt.js';
import { TemplateError } from '../../src/core/template.js';
import { coding, phase, pipeline } from './builders.js';

const DIR = 'backlog/design/fix-login';

const input = (extra: Partial<PromptInput> = {}): PromptInput => ({
  context: 'Tend is a TypeScript CLI. Use ESM.\n',
  template:
    'Write the design for {{title}} ({{id}}), attempt {{attempt}} of {{max_attempts}}.\nEarlier artifacts:\n{{artifacts}}\nFeedback: {{feedback}}\n',
  phase: phase('design'),
  pipelines: [coding(), pipeline('quick-fix', ['triage', 'build'], {}, 'Small, obvious\n  fixes.')],
  values: {
    id: 'fix-login',
    title: 'Fix login on Safari',
    phase: 'design',
    pipeline: 'coding',
    attempt: '2',
    max_attempts: '3',
    item_path: `${DIR}/item.md`,
    item_dir: DIR,
    artifact_path: `${DIR}/design.md`,
    artifacts: `- ${DIR}/research.md\n- ${DIR}/PRD.md`,
    lens: 'general',
    feedback: '(none)',
    workspace: '/repo',
    base_branch: 'main',
    branch: 'main',
    diff_command: 'git diff HEAD',
  },
  itemBody: '\nSafari users cannot log in since the cookie change.\n',
  ...extra,
});

describe('renderPrompt', () => {
  it('holds the context, the rendered instructions, the item body and the artifact path, in that order', () => {
    const prompt = renderPrompt(input());
    const parts = [
      '# Project context\n\nTend is a TypeScript CLI. Use ESM.',
      `Write the design for Fix login on Safari (fix-login), attempt 2 of 3.\nEarlier artifacts:\n- ${DIR}/research.md\n- ${DIR}/PRD.md\nFeedback: (none)`,
      `# The item: Fix login on Safari (fix-login)\n\nFile: ${DIR}/item.md\n\nSafari users cannot log in since the cookie change.`,
      `Write your result to ${DIR}/design.md.`,
    ];
    const at = parts.map((p) => prompt.indexOf(p));
    expect(at.every((i) => i >= 0)).toBe(true);
    expect([...at].sort((a, b) => a - b)).toEqual(at);
    expect(prompt).not.toContain('{{');
    expect(prompt.endsWith('\n')).toBe(true);
  });

  it('leaves out an empty context and says so when the item has no body', () => {
    const prompt = renderPrompt(input({ context: '  \n', itemBody: '\n' }));
    expect(prompt).not.toContain('# Project context');
    expect(prompt).toContain('(the item has no text beyond its title)');
  });

  it('gives triage the list of pipelines with their descriptions', () => {
    const prompt = renderPrompt(input({ template: 'Choose one of:\n{{pipelines}}\n' }));
    expect(prompt).toContain('- coding: The full engineering pipeline.\n- quick-fix: Small, obvious fixes.');
  });

  it('inserts item text literally, placeholders and all', () => {
    const prompt = renderPrompt(
      input({ values: { ...input().values, title: 'Use {{id}} and $&' }, itemBody: 'Body with {{nope}}.' }),
    );
    expect(prompt).toContain('Write the design for Use {{id}} and $& (fix-login)');
    expect(prompt).toContain('Body with {{nope}}.');
  });

  it('throws a TemplateError naming the prompt file and the unknown variable', () => {
    const render = () =>
      renderPrompt(
        input({
          phase: phase('design', { prompt: 'prompts/custom-design.md' }),
          template: 'Design {{id}}\nfor {{tittle}}\n',
        }),
      );
    expect(render).toThrow(TemplateError);
    expect(render).toThrow(/^prompts\/custom-design\.md:2: unknown template variable \{\{tittle\}\}/);
  });
});

describe('pipelineList', () => {
  it('gives a pipeline without a description a placeholder', () => {
    expect(pipelineList([pipeline('bare', ['build'])])).toBe('- bare: (no description)');
  });
});
