import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compareProgress, mergeData, planItemMerge } from '../../src/core/item-merge.js';
import { parseItem } from '../../src/core/item.js';
import {
  ENGINE_KEYS,
  engineOwned,
  KEPT_FROM_AGENTS,
  KEPT_FROM_EVERYONE,
  PROGRESS_KEYS,
} from '../../src/core/engine-keys.js';

const BASE = `---
title: Fix login # as the reporter wrote it
priority: 3
status: queued
attempts: 0
labels: [bug]
cost_usd: 0
---
Steps to reproduce.
`;

function merged(base: string, ours: string, theirs: string): string {
  const plan = planItemMerge(base, ours, theirs);
  if (plan.kind !== 'keys') throw new Error('expected a key merge');
  return plan.finish(plan.bodies.ours === plan.bodies.base ? plan.bodies.theirs : plan.bodies.ours);
}

function fields(text: string) {
  const parsed = parseItem(text, 'item.md', 'x');
  if (!parsed.item) throw new Error(parsed.problems.map((p) => p.message).join('; '));
  return parsed.item.fields;
}

describe('item merge, key by key', () => {
  it('a priority changed on one side and phase progress on the other: both kept, comments kept', () => {
    const laptop = BASE.replace('priority: 3', 'priority: 1');
    const server = BASE.replace('status: queued', 'status: running\nowner: vm:42').replace(
      'attempts: 0',
      'attempts: 1',
    );
    for (const [ours, theirs] of [
      [laptop, server],
      [server, laptop],
    ] as const) {
      const text = merged(BASE, ours, theirs);
      const f = fields(text);
      expect(f).toMatchObject({ priority: 1, status: 'running', attempts: 1, owner: 'vm:42', labels: ['bug'] });
      expect(text).toContain('title: Fix login # as the reporter wrote it');
      expect(text.endsWith('Steps to reproduce.\n')).toBe(true);
    }
  });

  it('a person key changed on both sides goes to the person (the side whose engine keys did not move)', () => {
    const laptop = BASE.replace('priority: 3', 'priority: 1');
    const server = BASE.replace('priority: 3', 'priority: 4').replace('status: queued', 'status: running');
    expect(fields(merged(BASE, server, laptop)).priority).toBe(1);
    expect(fields(merged(BASE, laptop, server)).priority).toBe(1);
  });

  it('engine keys changed on both sides come as one group from the side further along', () => {
    const a = BASE.replace('status: queued', 'status: running\nowner: a:1').replace('attempts: 0', 'attempts: 1');
    const b = BASE.replace('status: queued', 'status: failed\nowner: b:2')
      .replace('attempts: 0', 'attempts: 2')
      .replace('cost_usd: 0', 'cost_usd: 0.5');
    for (const [ours, theirs] of [
      [a, b],
      [b, a],
    ] as const) {
      expect(fields(merged(BASE, ours, theirs))).toMatchObject({ status: 'failed', owner: 'b:2', attempts: 2 });
    }
  });

  it('a key removed on one side and left alone on the other is removed', () => {
    const withOwner = BASE.replace('status: queued', 'status: running\nowner: vm:1');
    const released = withOwner.replace('status: running\nowner: vm:1', 'status: queued');
    const edited = withOwner.replace('priority: 3', 'priority: 2');
    const text = merged(withOwner, released, edited);
    expect(fields(text)).toMatchObject({ status: 'queued', priority: 2 });
    expect(text).not.toContain('owner');
  });

  it('a pull request recorded on the laptop while the server moves the item on: both kept', () => {
    const laptop = BASE.replace('priority: 3', 'priority: 3\npr: https://example.com/pull/7');
    const server = BASE.replace('status: queued', 'status: running\nowner: vm:42').replace(
      'attempts: 0',
      'attempts: 1',
    );
    for (const [ours, theirs] of [
      [laptop, server],
      [server, laptop],
    ] as const) {
      expect(fields(merged(BASE, ours, theirs))).toMatchObject({ pr: 'https://example.com/pull/7', owner: 'vm:42' });
    }
  });

  it('stale marks changed on both sides go to the side further along, as an engine key, not to the person', () => {
    const marked = BASE.replace('priority: 3', 'priority: 3\nstale: [design.md]\nstale_source: PRD.md');
    // The laptop changed only the marks; the server ran on (cost) and cleared them.
    const laptop = marked.replace('stale: [design.md]', 'stale: [design.md, spec.md]');
    const server = BASE.replace('cost_usd: 0', 'cost_usd: 0.5');
    for (const [ours, theirs] of [
      [laptop, server],
      [server, laptop],
    ] as const) {
      const f = fields(merged(marked, ours, theirs));
      expect(f.stale).toEqual([]);
      expect(f.stale_source).toBeUndefined();
      expect(f.cost_usd).toBe(0.5);
    }
  });

  it('a file that is not an item with readable frontmatter is merged as text', () => {
    expect(planItemMerge(BASE, '---\n: : bad\n---\n', BASE).kind).toBe('text');
  });
});

const person = fc.record({ priority: fc.integer({ min: 1, max: 5 }), labels: fc.array(fc.constantFrom('a', 'b')) });
const engine = fc.record({
  status: fc.constantFrom('queued', 'running', 'waiting', 'failed'),
  attempts: fc.integer({ min: 0, max: 3 }),
  cost_usd: fc.constantFrom(0, 0.25, 1),
});
const item = fc.record({ person, engine }).map(({ person, engine }) => ({ ...person, ...engine }));

describe('item merge properties', () => {
  it('the same change on both sides, or a change on one side only, is that change', () => {
    fc.assert(
      fc.property(item, item, (base, side) => {
        expect(mergeData(base, side, side).data).toEqual(side);
        expect(mergeData(base, side, base).data).toEqual(side);
        expect(mergeData(base, base, side).data).toEqual(side);
      }),
    );
  });

  it('the result does not depend on which side is ours, but for a full tie', () => {
    fc.assert(
      fc.property(item, item, item, (base, a, b) => {
        fc.pre(compareProgress(a, b) !== 0);
        expect(mergeData(base, a, b).data).toEqual(mergeData(base, b, a).data);
      }),
    );
  });

  it('every value in the result comes from one of the three sides, and engine keys from one side', () => {
    fc.assert(
      fc.property(item, item, item, (base, a, b) => {
        const { data, engineFrom } = mergeData(base, a, b);
        for (const [k, v] of Object.entries(data)) {
          expect(
            [base, a, b].some((s) => JSON.stringify((s as Record<string, unknown>)[k]) === JSON.stringify(v)),
          ).toBe(true);
        }
        const eng = (s: Record<string, unknown>) => JSON.stringify([s.status, s.attempts, s.cost_usd]);
        if (eng(a) !== eng(base) && eng(b) !== eng(base)) expect(eng(data)).toBe(eng(engineFrom === 'ours' ? a : b));
      }),
    );
  });

  it('merged text parses back to the merged data', () => {
    const text = (d: Record<string, unknown>) =>
      `---\n${Object.entries(d)
        .map(([k, v]) => `${k}: ${JSON.stringify(v)}`)
        .join('\n')}\n---\nbody\n`;
    fc.assert(
      fc.property(item, item, item, (base, a, b) => {
        const out = merged(text(base), text(a), text(b));
        const f = fields(out);
        const { data } = mergeData(base, a, b);
        expect({ priority: f.priority, status: f.status, attempts: f.attempts, cost_usd: f.cost_usd }).toEqual({
          priority: data.priority,
          status: data.status,
          attempts: data.attempts,
          cost_usd: data.cost_usd,
        });
        expect(f.labels).toEqual(data.labels);
      }),
    );
  });
});

describe('the keys the engine owns, one list for the merge driver and for putting keys back', () => {
  it('the merge driver owns every key tend puts back, and pr, stale, stale_source among them', () => {
    for (const key of [...KEPT_FROM_AGENTS, ...KEPT_FROM_EVERYONE, ...PROGRESS_KEYS])
      expect(engineOwned(key)).toBe(true);
    for (const key of ['pr', 'stale', 'stale_source', 'status', 'owner', 'warning']) expect(ENGINE_KEYS).toContain(key);
    for (const key of ['title', 'priority', 'labels', 'depends_on', 'approved', 'created', 'mine', 'toString'])
      expect(engineOwned(key)).toBe(false);
  });

  it('an agent may not change pr or the stale marks of its own item; a person may (they are not put back)', () => {
    for (const key of ['pr', 'stale', 'stale_source']) {
      expect(KEPT_FROM_AGENTS).toContain(key);
      expect(KEPT_FROM_EVERYONE).not.toContain(key);
      expect(PROGRESS_KEYS).not.toContain(key);
    }
    for (const key of KEPT_FROM_EVERYONE) expect(KEPT_FROM_AGENTS).toContain(key);
  });
});
