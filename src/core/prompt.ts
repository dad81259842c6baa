// The one prompt an agent receives: the project context (ORCHESTRATOR.md body), the phase's
// instructions (its template, rendered strictly) and the item itself. Pure.
import type { Phase, Pipeline } from './pipeline.js';
import { renderTemplate, type TemplateValues } from './template.js';

export interface PromptInput {
  context: string;
  template: string;
  phase: Phase;
  pipelines: Pipeline[];
  values: Omit<TemplateValues, 'pipelines'>;
  itemBody: string;
}

export function pipelineList(pipelines: Pipeline[]): string {
  return pipelines
    .map((p) => `- ${p.name}: ${p.description.replace(/\s+/g, ' ').trim() || '(no description)'}`)
    .join('\n');
}

export function renderPrompt(input: PromptInput): string {
  const values: TemplateValues = { ...input.values, pipelines: pipelineList(input.pipelines) };
  const instructions = renderTemplate(input.phase.prompt, input.template, values).trim();
  const itemText = input.itemBody.trim() || '(the item has no text beyond its title)';
  const sections = [
    input.context.trim() && `# Project context\n\n${input.context.trim()}`,
    instructions,
    `# The item: ${values.title} (${values.id})\n\nFile: ${values.item_path}\n\n${itemText}`,
    `# Where to write\n\nWrite your result to ${values.artifact_path}. ` +
      'The phase counts as done only when that file exists and is not empty.',
  ];
  return `${sections.filter(Boolean).join('\n\n---\n\n')}\n`;
}
