// Scheduling order of items and the folder order of the board.
import { describe, expect, it } from 'vitest';
import { board, boardJson, compareItems, locationOrder } from '../../src/core/board.js';
import type { Item } from '../../src/core/backlog.js';
import type { Config } from '../../src/core/config.js';
import { parsePipeline, type Pipeline } from '../../src/core/pipeline.js';
import { DEFAULT_SETTINGS } from '../../src/core/settings.js';
import { parseItem } from '../../src/core/item.js';

function item(id: string, priority: number, createdMs: number): Item {
  const file = `backlog/${id}.md`;
  const parsed = parseItem(`---\npriority: ${priority}\n---\n`, file, id).item;
  if (!parsed) throw new Error('bad fixture');
  return { id, location: 'inbox', file, parsed, fields: parsed.fields, artifacts: [], createdMs };
}

function pipeline(name: string, phases: string[]): Pipeline {
  const text = `---\nphases:\n${phases.map((p) => `  - { name: ${p} }`).join('\n')}\n---\n`;
  const parsed = parsePipeline(name, text, `pipelines/${name}.md`).pipeline;
  if (!parsed) throw new Error('bad fixture');
  return parsed;
}

const config = (defaultPipeline: string, ...pipelines: Pipeline[]): Config => ({
  settings: { ...DEFAULT_SETTINGS, default_pipeline: defaultPipeline },
  context: '',
  pipelines: new Map(pipelines.map((p) => [p.name, p])),
  prompts: new Map(),
});

describe('compareItems', () => {
  it('orders by priority, then age (oldest first), then id', () => {
    const items = [item('d', 3, 100), item('c', 1, 300), item('b', 3, 100), item('a', 3, 50), item('e', 1, 200)];
    expect([...items].sort(compareItems).map((i) => i.id)).toEqual(['e', 'c', 'a', 'b', 'd']);
  });

  it('treats equal items as equal', () => {
    expect(compareItems(item('a', 2, 1), item('a', 2, 1))).toBe(0);
  });
});

describe('locationOrder', () => {
  const coding = pipeline('coding', ['triage', 'design', 'build', 'review']);
  const quick = pipeline('quick-fix', ['triage', 'build', 'deploy']);

  it("lists inbox, the default pipeline phases, other pipelines' extra phases, done, blocked", () => {
    expect(locationOrder(config('coding', quick, coding))).toEqual([
      'inbox',
      'triage',
      'design',
      'build',
      'review',
      'deploy',
      'done',
      'blocked',
    ]);
  });

  it('follows the default pipeline', () => {
    expect(locationOrder(config('quick-fix', coding, quick))).toEqual([
      'inbox',
      'triage',
      'build',
      'deploy',
      'design',
      'review',
      'done',
      'blocked',
    ]);
  });
});

describe('board: done/', () => {
  const cfg = config('coding', pipeline('coding', ['triage', 'build']));
  const done = (id: string, priority: number): Item => ({ ...item(id, priority, 100), location: 'done' });

  it('counts every finished item, shows those read, latest first, and says they are not all', () => {
    const snapshot = {
      items: [item('new', 1, 1), done('old', 1), done('newest', 5), done('middle', 3)],
      invalid: [],
      done: new Set(['old', 'newest', 'middle', 'unread-1', 'unread-2']),
    };
    const b = board(snapshot, cfg, ['newest', 'middle', 'old']);
    const group = b.groups.find((g) => g.location === 'done');
    expect(group?.items.map((i) => i.id)).toEqual(['newest', 'middle', 'old']);
    expect(group?.count).toBe(5);
    expect(b.done).toEqual({ shown: ['newest', 'middle', 'old'], all: false });
    const json = boardJson(b, { errors: [], warnings: [] }, 0);
    expect(json.counts).toEqual({ inbox: 1, triage: 0, build: 0, done: 5, blocked: 0 });
    expect(json.done).toEqual({ count: 5, shown: ['newest', 'middle', 'old'], all: false });
    expect(json.items.map((i) => i.id)).toEqual(['new', 'newest', 'middle', 'old']);
  });

  it('says they are all when every finished item is shown', () => {
    const snapshot = { items: [done('a', 1)], invalid: [], done: new Set(['a']) };
    expect(board(snapshot, cfg, ['a']).done).toEqual({ shown: ['a'], all: true });
  });
});
