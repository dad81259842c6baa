// Strict prompt templates: unknown variables are errors naming the file and line, never ''.
import { describe, expect, it } from 'vitest';
import {
  renderTemplate,
  TEMPLATE_VARIABLES,
  TemplateError,
  unknownVariables,
  type TemplateValues,
} from '../../src/core/template.js';

const values = Object.fromEntries(Object.keys(TEMPLATE_VARIABLES).map((k) => [k, `<${k}>`])) as TemplateValues;

describe('renderTemplate', () => {
  it('replaces every known variable, with or without spaces inside the braces', () => {
    expect(renderTemplate('prompts/build.md', 'Build {{id}} ({{ title }}).\nWrite {{artifact_path}}.\n', values)).toBe(
      'Build <id> (<title>).\nWrite <artifact_path>.\n',
    );
  });

  it('inserts values literally, even when they look like placeholders or replacement patterns', () => {
    const text = { ...values, title: '{{id}} $& $1 $$' };
    expect(renderTemplate('prompts/x.md', '[{{title}}]', text)).toBe('[{{id}} $& $1 $$]');
  });

  it('throws a TemplateError naming the file, the line and every unknown variable', () => {
    const template = 'Hello {{id}}\n{{tilte}} and {{ nope }}\n\n{{artifact}}\n';
    let error: unknown;
    try {
      renderTemplate('prompts/build.md', template, values);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(TemplateError);
    const e = error as TemplateError;
    expect(e.file).toBe('prompts/build.md');
    expect(e.problems).toEqual([
      { variable: 'tilte', line: 2 },
      { variable: 'nope', line: 2 },
      { variable: 'artifact', line: 4 },
    ]);
    expect(e.message.split('\n')).toHaveLength(3);
    expect(e.message).toMatch(
      /^prompts\/build\.md:2: unknown template variable \{\{tilte\}\}; known variables: id, title, /,
    );
    expect(e.message).toContain('prompts/build.md:4: unknown template variable {{artifact}}');
  });
});

describe('unknownVariables', () => {
  it('is empty for a template using only known variables', () => {
    expect(
      unknownVariables(
        Object.keys(TEMPLATE_VARIABLES)
          .map((k) => `{{${k}}}`)
          .join('\n'),
      ),
    ).toEqual([]);
  });
  it('does not take inherited object keys for variables', () => {
    expect(unknownVariables('{{constructor}} {{toString}}').map((p) => p.variable)).toEqual([
      'constructor',
      'toString',
    ]);
  });
});
