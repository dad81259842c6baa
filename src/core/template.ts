// Strict prompt templates: `{{name}}` is replaced by a known variable; anything else is an
// error naming the file and the variable, so a typo is caught by `tend doctor` before an agent
// is paid to read an empty string.

/** Every variable a phase prompt may use, with the text documented in the README. */
export const TEMPLATE_VARIABLES = {
  id: 'the item id (its folder name), e.g. `fix-login-on-safari`',
  title: 'the item title',
  phase: 'the phase being run, e.g. `design`',
  pipeline: 'the pipeline the item follows, e.g. `coding`',
  attempt: 'the attempt number of this phase, starting at 1',
  max_attempts: 'how many attempts this phase gets before the item is blocked',
  item_path: 'path of the item file (item.md)',
  item_dir: 'the item folder, where every artifact lives',
  artifact_path: 'where this phase must write its artifact',
  artifacts: 'a bullet list of the artifacts earlier phases wrote, or "(none yet)"',
  lens: 'the review lens of this agent in a fan-out (e.g. `security`), or `general`',
  feedback: 'what a rejected review or a human rejection asked to change, or "(none)"',
  pipelines: 'a bullet list of the pipelines with their descriptions (for triage)',
  workspace: 'the directory the agent runs in (repository root or the item worktree)',
  base_branch: 'the branch work starts from and is merged back into',
  branch: 'the item work branch (`tend/<id>`) when the phase runs in a worktree, else the base branch',
  diff_command: 'a git command that shows the item changes so far',
} as const;

export type TemplateVariable = keyof typeof TEMPLATE_VARIABLES;
export type TemplateValues = Record<TemplateVariable, string>;

const PLACEHOLDER = /\{\{\s*([^{}]*?)\s*\}\}/g;

export interface TemplateProblem {
  variable: string;
  line: number;
}

/** Names used in a template that are not known variables, with the line they are on. */
export function unknownVariables(template: string): TemplateProblem[] {
  const problems: TemplateProblem[] = [];
  for (const match of template.matchAll(PLACEHOLDER)) {
    const name = match[1] ?? '';
    if (!Object.hasOwn(TEMPLATE_VARIABLES, name)) {
      const line = template.slice(0, match.index).split('\n').length;
      problems.push({ variable: name, line });
    }
  }
  return problems;
}

export class TemplateError extends Error {
  constructor(
    readonly file: string,
    readonly problems: TemplateProblem[],
  ) {
    super(
      problems
        .map(
          (p) =>
            `${file}:${p.line}: unknown template variable {{${p.variable}}}; ` +
            `known variables: ${Object.keys(TEMPLATE_VARIABLES).join(', ')}`,
        )
        .join('\n'),
    );
    this.name = 'TemplateError';
  }
}

/** Render a template; throws TemplateError listing every unknown variable at once. */
export function renderTemplate(file: string, template: string, values: TemplateValues): string {
  const problems = unknownVariables(template);
  if (problems.length > 0) throw new TemplateError(file, problems);
  return template.replace(PLACEHOLDER, (_all, name: string) => values[name as TemplateVariable]);
}
