// Items that only the configuration can make invalid: a missing pipeline, a phase it lacks.
import { describe, expect, it } from 'vitest';
import type { Item, Snapshot } from '../../src/core/backlog.js';
import { checkAgainstConfig } from '../../src/core/validate.js';
import type { Config } from '../../src/core/config.js';
import { parsePipeline, type Pipeline } from '../../src/core/pipeline.js';
import { DEFAULT_SETTINGS } from '../../src/core/settings.js';
import { parseItem } from '../../src/core/item.js';

function pipeline(name: string, phases: string[]): Pipeline {
  const text = `---\nphases:\n${phases.map((p) => `  - { name: ${p} }`).join('\n')}\n---\n`;
  const parsed = parsePipeline(name, text, `pipelines/${name}.md`).pipeline;
  if (!parsed) throw new Error('bad fixture');
  return parsed;
}

const config: Config = {
  settings: DEFAULT_SETTINGS,
  context: '',
  pipelines: new Map(
    [pipeline('coding', ['triage', 'design', 'build']), pipeline('quick-fix', ['triage', 'build'])].map((p) => [
      p.name,
      p,
    ]),
  ),
  prompts: new Map(),
};

function item(id: string, location: string, frontmatter: string): Item {
  const file = location === 'inbox' ? `backlog/${id}.md` : `backlog/${location}/${id}/item.md`;
  const parsed = parseItem(`---\ntitle: ${id}\n${frontmatter}---\nbody\n`, file, id).item;
  if (!parsed) throw new Error('bad fixture');
  return { id, location, file, parsed, fields: parsed.fields, artifacts: [], createdMs: 0 };
}

describe('checkAgainstConfig', () => {
  it('keeps items whose pipeline exists and has their phase', () => {
    const snapshot: Snapshot = {
      items: [
        item('a', 'inbox', 'pipeline: quick-fix\n'),
        item('b', 'design', ''),
        item('c', 'build', 'pipeline: quick-fix\n'),
        item('d', 'done', 'pipeline: quick-fix\n'),
        item('e', 'blocked', ''),
      ],
      invalid: [],
      done: new Set(['d']),
    };
    expect(checkAgainstConfig(snapshot, config)).toEqual(snapshot);
  });

  it('moves an item naming an unknown pipeline to invalid, with the line and the choices', () => {
    const bad = item('x', 'inbox', 'priority: 1\npipeline: codng\n');
    const result = checkAgainstConfig({ items: [bad, item('ok', 'inbox', '')], invalid: [], done: new Set() }, config);
    expect(result.items.map((i) => i.id)).toEqual(['ok']);
    expect(result.invalid).toEqual([
      {
        path: 'backlog/x.md',
        id: 'x',
        location: 'inbox',
        problems: [
          {
            file: 'backlog/x.md',
            line: 4,
            key: 'pipeline',
            message: 'no pipeline named "codng"',
            fix: 'use one of coding, quick-fix, or remove the key to let triage choose',
          },
        ],
      },
    ]);
  });

  it('moves an item in a phase folder its pipeline lacks to invalid, saying where it may go', () => {
    const explicit = item('y', 'design', 'pipeline: quick-fix\n');
    const byDefault = item('z', 'review', '');
    const earlier = {
      path: 'backlog/broken.md',
      problems: [{ file: 'backlog/broken.md', message: 'the file is empty' }],
    };
    const result = checkAgainstConfig({ items: [explicit, byDefault], invalid: [earlier], done: new Set() }, config);
    expect(result.items).toEqual([]);
    expect(result.invalid[0]).toBe(earlier);
    expect(result.invalid[1]?.problems).toEqual([
      {
        file: 'backlog/design/y/item.md',
        line: 3,
        key: 'pipeline',
        message: 'the item sits in backlog/design/ but pipeline quick-fix has no phase design',
        fix: 'move the folder to one of backlog/triage/, backlog/build/, or change pipeline:',
      },
    ]);
    expect(result.invalid[2]?.problems[0]).toMatchObject({
      key: 'pipeline',
      message: 'the item sits in backlog/review/ but pipeline coding has no phase review',
    });
  });

  it('leaves the snapshot alone when no pipeline is configured', () => {
    const snapshot = { items: [item('x', 'inbox', 'pipeline: codng\n')], invalid: [], done: new Set<string>() };
    expect(checkAgainstConfig(snapshot, { ...config, pipelines: new Map() })).toBe(snapshot);
  });
});
