// parseItem / serializeItem / updateItem: byte-exact round trips, one-line diffs, and problems
// that name the file, line, key, what was expected and what was found.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { parseItem, serializeItem, updateItem, type ParsedItem } from '../../src/core/item.js';

const FILE = 'backlog/fix-login.md';

function parse(text: string, stem = 'fix-login'): ParsedItem {
  const result = parseItem(text, FILE, stem);
  if (!result.item) throw new Error(`expected a valid item: ${JSON.stringify(result.problems)}`);
  return result.item;
}

const problems = (text: string) => parseItem(text, FILE, 'fix-login').problems;
const update = (text: string, changes: Record<string, unknown>) => serializeItem(updateItem(parse(text), changes));

/** Indexes of the lines that differ between two texts with the same number of lines. */
function changedLines(before: string, after: string): number[] {
  const a = before.split('\n');
  const b = after.split('\n');
  expect(b).toHaveLength(a.length);
  return a.flatMap((line, i) => (line === b[i] ? [] : [i]));
}

const DESIGN_ITEM = `---
title: Fix login on Safari
priority: 2            # 1 = most urgent … 5 = someday; humans edit this to reorder
pipeline: coding       # chosen by triage, or by hand
status: queued         # queued | running | waiting (needs a human) | failed
attempts: 0            # attempts of the current phase
depends_on: []         # ids that must be done first
labels: [bug]
created: 2026-11-25T21:04:00Z
cost_usd: 0.00         # summed over all phases run so far
reviewer: 'Ada'        # a key tend does not know
---
Free text from the human: what and why.
`;

describe('round trip', () => {
  const shapes: Record<string, string> = {
    'the README example item, with comments': DESIGN_ITEM,
    'block lists and quoted strings': `---\ntitle: "Quoted: title"\nlabels:\n  - bug\n  - 'ui'\ndepends_on:\n  - a   # first\nextra: { a: 1, b: [x, y] }\n---\nbody\n`,
    'CRLF line endings': DESIGN_ITEM.replace(/\n/g, '\r\n'),
    'a byte order mark': `\uFEFF${DESIGN_ITEM}`,
    'no frontmatter': '# Fix login\n\nSafari drops the cookie.\n',
    'empty frontmatter': '---\n---\n',
    'comment-only frontmatter': '---\n# priority: 1\n---\n# Title\n',
    '`---` lines inside the body': '---\ntitle: a\n---\nintro\n---\nmore\n---\n\n---   \nend',
    'trailing whitespace everywhere': '---   \ntitle: a   \npriority: 1\t\n---\t\nbody   \n\n\n',
    'no final newline': '---\ntitle: a\n---',
    'a `...` closing line': '---\ntitle: a\n...\nbody\n',
    'unicode body': '---\ntitle: Café ☕\n---\n日本語 🎉 e\u0301\n',
  };
  for (const [name, text] of Object.entries(shapes)) {
    it(`keeps ${name} byte for byte`, () => {
      expect(serializeItem(parse(text))).toBe(text);
    });
  }
});

describe('updateItem', () => {
  it('changes exactly the line of the changed key, keeping its comment', () => {
    const after = update(DESIGN_ITEM, { priority: 1 });
    expect(changedLines(DESIGN_ITEM, after)).toEqual([2]);
    expect(after.split('\n')[2]).toBe(
      'priority: 1            # 1 = most urgent … 5 = someday; humans edit this to reorder',
    );
  });

  it('keeps unknown keys, key order and the body', () => {
    const item = updateItem(parse(DESIGN_ITEM), { status: 'running', owner: 'laptop:42' });
    expect(item.data.reviewer).toBe('Ada');
    expect(Object.keys(item.data)).toEqual([...Object.keys(parse(DESIGN_ITEM).data), 'owner']);
    expect(item.frontmatter.body).toBe('Free text from the human: what and why.\n');
    expect(item.fields).toMatchObject({ status: 'running', owner: 'laptop:42', priority: 2 });
  });

  it('does not change the item it was given', () => {
    const item = parse(DESIGN_ITEM);
    updateItem(item, { priority: 5, owner: 'x:1' });
    expect(serializeItem(item)).toBe(DESIGN_ITEM);
    expect(item.fields.priority).toBe(2);
  });

  it('removes a key with its line, and a block list with all of its lines', () => {
    const lines = DESIGN_ITEM.split('\n');
    expect(update(DESIGN_ITEM, { pipeline: undefined })).toBe([...lines.slice(0, 3), ...lines.slice(4)].join('\n'));
    const block = '---\ntitle: a\nlabels:\n  - bug\n  - ui\npriority: 2\n---\nbody\n';
    expect(update(block, { labels: undefined })).toBe('---\ntitle: a\npriority: 2\n---\nbody\n');
    expect(update(block, { absent: undefined })).toBe(block);
  });

  it('appends a new key as one line before the closing delimiter', () => {
    const after = update(DESIGN_ITEM, { approved: true });
    const lines = DESIGN_ITEM.split('\n');
    expect(after).toBe([...lines.slice(0, 11), 'approved: true', ...lines.slice(11)].join('\n'));
  });

  it('writes a list on one line', () => {
    expect(update('---\ntitle: a\nlabels:\n  - bug\n---\n', { labels: ['bug', 'ui'] })).toBe(
      '---\ntitle: a\nlabels: [bug, ui]\n---\n',
    );
  });

  it('fills an empty value without swallowing its comment', () => {
    const after = update('---\ntitle: a\npipeline:    # triage picks\n---\n', { pipeline: 'coding' });
    expect(after).toBe('---\ntitle: a\npipeline:    coding # triage picks\n---\n');
    expect(parse(after).fields.pipeline).toBe('coding');
  });

  it('keeps CRLF line endings and the byte order mark', () => {
    const text = `\uFEFF${DESIGN_ITEM.replace(/\n/g, '\r\n')}`;
    const after = update(text, { priority: 4, owner: 'host:1', blocked_reason: 'line one\nline two' });
    expect(after.startsWith('\uFEFF---\r\n')).toBe(true);
    expect(after).not.toMatch(/(?<!\r)\n/);
    expect(after.split('\r\n')).toHaveLength(text.split('\r\n').length + 2);
  });

  it('keeps a multi-line string value on one line', () => {
    const text = '---\ntitle: a\n---\nbody\n';
    const item = updateItem(parse(text), { blocked_reason: 'agent failed:\nexit 1\n' });
    expect(serializeItem(item).split('\n')).toHaveLength(text.split('\n').length + 1);
    expect(item.fields.blocked_reason).toBe('agent failed:\nexit 1\n');
  });

  it('gives a file without frontmatter a block and leaves its body alone', () => {
    expect(update('# Fix login\n', { priority: 1 })).toBe('---\npriority: 1\n---\n# Fix login\n');
  });
});

describe('parseItem problems', () => {
  it.each([
    ['priority: high', 'priority', /expected an integer from 1 .* to 5 .*, found "high"/],
    ['priority: 9', 'priority', /expected an integer from 1 .*, found 9/],
    ['priority: 1e308', 'priority', /expected an integer from 1 .*, found 1e\+308/],
    ['cost_usd: 1e999', 'cost_usd', /expected a number of dollars, 0 or more, found Infinity/],
    ['status: bogus', 'status', /expected one of queued, running, waiting, failed, found "bogus"/],
    ['depends_on: [../etc]', 'depends_on', /expected a list of item ids.*, found \["\.\.\/etc"\]/],
    ['labels: { a: 1 }', 'labels', /expected a list of words.*, found \{"a":1\}/],
  ])('reports `%s` with file, line, key, expected and found', (line, key, message) => {
    const found = problems(`---\ntitle: ok\n${line}\n---\nbody\n`);
    expect(found).toHaveLength(1);
    expect(found[0]).toMatchObject({ file: FILE, line: 3 });
    expect(found[0]?.key?.split('.')[0]).toBe(key);
    expect(found[0]?.message).toMatch(message);
  });

  it('reports every bad key at once', () => {
    const found = problems('---\npriority: high\nstatus: bogus\nattempts: -1\n---\n');
    expect(found.map((p) => [p.key, p.line])).toEqual([
      ['priority', 2],
      ['status', 3],
      ['attempts', 4],
    ]);
  });

  it("reports malformed YAML at a file line, without the parser's own line count", () => {
    const [problem, ...rest] = problems('---\ntitle: a\nlabels: [bug, ui\n---\n');
    expect(rest).toEqual([]);
    expect(problem).toMatchObject({ file: FILE, line: 4 });
    expect(problem?.message).toMatch(/^invalid YAML: .*end with a \]$/);
  });

  it('names a duplicate key and the line of its second occurrence', () => {
    expect(problems('---\ntitle: a\npriority: 1\npriority: 2\n---\n')).toEqual([
      {
        file: FILE,
        line: 4,
        key: 'priority',
        message: expect.stringMatching(/priority appears more than once/),
        fix: 'keep one of its lines',
      },
    ]);
  });

  it('reports an unclosed frontmatter block and an empty file at line 1', () => {
    expect(problems('---\ntitle: a\npriority: 1\n')).toEqual([
      {
        file: FILE,
        line: 1,
        message: expect.stringMatching(/never closed/),
        fix: expect.stringMatching(/add a `---` line/),
      },
    ]);
    expect(problems('')).toEqual([{ file: FILE, line: 1, message: 'the file is empty', fix: expect.any(String) }]);
    expect(problems('  \n\n')[0]?.message).toBe('the file is empty');
  });

  it('refuses frontmatter that is not a map of keys', () => {
    expect(problems('---\n- a\n- b\n---\n')).toEqual([
      { file: FILE, line: 2, message: expect.stringMatching(/key: value/), fix: expect.any(String) },
    ]);
  });

  it('treats an empty value as unset', () => {
    const item = parse('---\npipeline:\nowner:\npriority:\n---\n');
    expect(item.fields.pipeline).toBeUndefined();
    expect(item.fields.owner).toBeUndefined();
    expect(item.fields.priority).toBe(3);
  });
});

describe('title', () => {
  it('comes from the frontmatter first', () => {
    expect(parse('---\ntitle: "  From frontmatter "\n---\n# Heading\n').fields.title).toBe('From frontmatter');
  });
  it('else from the first heading, as plain text', () => {
    expect(parse('Some intro.\n\n## Heading with *emphasis* and `code`\n\n# Later\n').fields.title).toBe(
      'Heading with emphasis and code',
    );
  });
  it('else from the file stem with dashes as spaces', () => {
    expect(parse('---\npriority: 1\n---\nNo heading here.\n', 'fix-login-on-safari').fields.title).toBe(
      'fix login on safari',
    );
  });
});

describe('property: any valid item', () => {
  // Only the final newline: trimEnd() would also eat a value's own Unicode whitespace ('\u00a0').
  const yamlText = (value: unknown) => stringify(value, { lineWidth: 0, collectionStyle: 'flow' }).replace(/\n$/, '');
  const text = fc.string({ unit: 'grapheme', maxLength: 30 });
  const arbitraryItem = fc.record({
    title: text.filter((t) => t.trim() !== ''),
    priority: fc.integer({ min: 1, max: 5 }),
    labels: fc.array(fc.stringMatching(/^[a-z][a-z0-9-]{0,8}$/), { maxLength: 4 }),
    extras: fc.uniqueArray(
      fc.tuple(fc.stringMatching(/^x_[a-z0-9_]{1,10}$/), fc.oneof(fc.integer(), fc.boolean(), text)),
      {
        selector: ([key]) => key,
        maxLength: 5,
      },
    ),
    body: fc.array(fc.oneof(fc.constant('---'), fc.constant(''), text), { maxLength: 8 }),
    eol: fc.constantFrom('\n', '\r\n'),
  });

  it('round-trips, and a priority change rewrites only the priority line', () => {
    fc.assert(
      fc.property(arbitraryItem, ({ title, priority, labels, extras, body, eol }) => {
        const frontmatter = [
          `title: ${yamlText(title)}`,
          `priority: ${priority}`,
          `labels: ${yamlText(labels)}`,
          ...extras.map(([key, value]) => `${key}: ${yamlText(value)}`),
        ].join('\n');
        const source = `---\n${frontmatter}\n---\n`.replace(/\n/g, eol) + body.join(eol);
        const item = parse(source);
        expect(serializeItem(item)).toBe(source);
        expect(item.fields).toMatchObject({ title: title.trim(), priority, labels });
        for (const [key, value] of extras) expect(item.data[key]).toEqual(value);

        const next = (priority % 5) + 1;
        const updated = updateItem(item, { priority: next });
        const after = serializeItem(updated);
        const changed = changedLines(source, after);
        expect(changed).toHaveLength(1);
        expect(after.split('\n')[changed[0] ?? -1]).toBe(`priority: ${next}${eol === '\r\n' ? '\r' : ''}`);
        expect(updated.frontmatter.body).toBe(item.frontmatter.body);
        for (const [key, value] of extras) expect(updated.data[key]).toEqual(value);
      }),
      { numRuns: 200 },
    );
  });
});
