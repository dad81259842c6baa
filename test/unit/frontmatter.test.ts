// The frontmatter splitter and editor under the item, settings and pipeline parsers.
import { describe, expect, it } from 'vitest';
import {
  joinFrontmatter,
  readYaml,
  setFields,
  splitFrontmatter,
  type Frontmatter,
} from '../../src/core/frontmatter.js';

function split(text: string): Frontmatter {
  const result = splitFrontmatter(text);
  if ('problem' in result) throw new Error(result.problem.message);
  return result.value;
}

describe('splitFrontmatter', () => {
  it('splits delimiters, YAML and body exactly as written', () => {
    expect(split('\uFEFF---  \r\na: 1\r\n---\r\nbody\r\n')).toEqual({
      bom: true,
      present: true,
      open: '---  \r\n',
      yaml: 'a: 1\r\n',
      close: '---\r\n',
      body: 'body\r\n',
      eol: '\r\n',
    });
  });

  it('reads a file that does not start with `---` as all body', () => {
    expect(split('# Title\n---\nx\n')).toMatchObject({ present: false, yaml: '', body: '# Title\n---\nx\n' });
  });

  it('reports a block that is never closed at line 1', () => {
    expect(splitFrontmatter('---\na: 1\n')).toEqual({
      problem: { line: 1, message: expect.stringMatching(/never closed/), fix: expect.any(String) },
    });
  });

  it('takes the line ending from the frontmatter, not from a CRLF pasted into the body', () => {
    const fm = split('---\na: 1\n---\nlog line\r\n');
    expect(fm.eol).toBe('\n');
    expect(joinFrontmatter(setFields(fm, { b: 2 }))).toBe('---\na: 1\nb: 2\n---\nlog line\r\n');
  });
});

describe('readYaml', () => {
  it('reports key lines in file coordinates (the `---` is line 1)', () => {
    const { keyLines, problems } = readYaml(split('\uFEFF---\n# comment\na: 1\nlist:\n  - x\nb: 2\n---\n'));
    expect(problems).toEqual([]);
    expect(Object.fromEntries(keyLines)).toEqual({ a: 3, list: 4, b: 6 });
  });

  it('treats a block of only comments as empty', () => {
    expect(readYaml(split('---\n# a: 1\n\n# b: 2\n---\n'))).toMatchObject({
      data: {},
      keyLines: new Map(),
      problems: [],
    });
  });

  it('gives one line number per YAML error: the file line', () => {
    const { problems } = readYaml(split('---\na: 1\nb: "unclosed\n---\n'));
    expect(problems).toHaveLength(1);
    expect(problems[0]?.line).toBe(4);
    expect(problems[0]?.message).toMatch(/^invalid YAML: /);
    expect(problems[0]?.message).not.toMatch(/line \d|:$/);
  });
});

describe('setFields', () => {
  it('writes a map on one line, and replaces a block map', () => {
    const fm = split('---\nmeta:\n  a: 1\n  b: 2\nz: 0\n---\n');
    expect(joinFrontmatter(setFields(fm, { meta: { a: 3, b: 4 } }))).toBe('---\nmeta: {a: 3, b: 4}\nz: 0\n---\n');
    expect(joinFrontmatter(setFields(fm, { extra: { c: [1, 2] } }))).toBe(
      '---\nmeta:\n  a: 1\n  b: 2\nz: 0\nextra: {c: [1, 2]}\n---\n',
    );
  });

  it('quotes values that would otherwise read back differently', () => {
    const fm = setFields(split('---\n---\n'), { owner: 'a: b # c', labels: ['a,b', ']'], code: '007', flag: 'true' });
    expect(readYaml(fm).data).toEqual({ owner: 'a: b # c', labels: ['a,b', ']'], code: '007', flag: 'true' });
  });

  it('applies changes in order to a new copy', () => {
    const fm = split('---\na: 1\n---\n');
    const next = setFields(fm, { a: undefined, b: 1, c: 2 });
    expect(joinFrontmatter(next)).toBe('---\nb: 1\nc: 2\n---\n');
    expect(fm.yaml).toBe('a: 1\n');
  });
});
