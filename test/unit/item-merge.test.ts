import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compareProgress, mergeData, planItemMerge } from '../../src/core/item-merge.js';
import { parseItem } from '../../src/core/item.js';

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
