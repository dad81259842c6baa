// The scheduler: from a snapshot of the backlog to what to start now.
import { describe, expect, it } from 'vitest';
import { capReached, heldByCap, nextPhase, plan, type SchedulerState } from '../../src/core/scheduler.js';
import { coding, config, doneItem, item, NOW, phase, pipeline } from './builders.js';

const state = (overrides: Partial<SchedulerState> = {}): SchedulerState => ({
  now: NOW,
  freeSlots: 10,
  active: new Map(),
  spentUsd: 0,
  invalidIds: new Set(),
  finished: new Set(),
  ...overrides,
});

const CONFIG = config([coding(), pipeline('quick-fix', ['triage', 'build', 'review'])]);

/** Ids of the items the plan starts, in order. */
const started = (p: ReturnType<typeof plan>) => p.start.map((s) => s.item.id);
const blocked = (p: ReturnType<typeof plan>) => p.block.map((b) => b.item.id);

describe('plan: order', () => {
  it('starts by priority (1 first), then age (oldest first)', () => {
    const items = [
      item('old-p3', { priority: 3, createdMs: NOW - 3_000 }),
      item('new-p1', { priority: 1, createdMs: NOW - 1_000 }),
      item('older-p3', { priority: 3, createdMs: NOW - 5_000, location: 'design' }),
      item('p2', { priority: 2, createdMs: NOW - 2_000, location: 'prd' }),
      item('old-p1', { priority: 1, createdMs: NOW - 9_000, location: 'triage' }),
    ];
    expect(started(plan(items, CONFIG, state()))).toEqual(['old-p1', 'new-p1', 'p2', 'older-p3', 'old-p3']);
  });

  it('gives each start the item pipeline and the phase of its folder', () => {
    const [start] = plan([item('a', { location: 'review', pipeline: 'quick-fix' })], CONFIG, state()).start;
    expect(start?.pipeline.name).toBe('quick-fix');
    expect(start?.phase).toMatchObject({ name: 'review', artifact: 'review.md' });
    const [other] = plan([item('b', { location: 'design' })], CONFIG, state()).start;
    expect(other?.pipeline.name).toBe('coding');
  });

  it('sends inbox items to intake in scheduling order, even with no free slot or budget', () => {
    const items = [
      item('later', { location: 'inbox', priority: 4 }),
      item('sooner', { location: 'inbox', priority: 2 }),
    ];
    const p = plan(items, config([coding()], { budget: { per_run_usd: 1 } }), state({ freeSlots: 0, spentUsd: 5 }));
    expect(p.intake.map((i) => i.id)).toEqual(['sooner', 'later']);
    expect(p.start).toEqual([]);
  });

  it('ignores items in done/ and blocked/', () => {
    const p = plan([doneItem('d'), item('b', { location: 'blocked', status: 'failed' })], CONFIG, state());
    expect(p).toEqual({
      intake: [],
      approved: [],
      start: [],
      block: [],
      stuck: [],
      retrying: [],
      parked: [],
      waiting: [],
      limited: [],
      budgetReached: false,
    });
  });

  it('ignores an item whose folder is not a phase of its pipeline, or whose pipeline does not exist', () => {
    const p = plan(
      [item('a', { location: 'deploy' }), item('b', { location: 'build', pipeline: 'nope' })],
      CONFIG,
      state(),
    );
    expect(p.start).toEqual([]);
    expect(p.block).toEqual([]);
  });
});

describe('plan: dependencies', () => {
  it('waits until every dependency is in done/', () => {
    const dep = item('dep', { location: 'design' });
    const a = item('a', { depends_on: ['dep'], priority: 1 });
    const waiting = plan([a, dep], CONFIG, state());
    expect(started(waiting)).toEqual(['dep']);
    expect(waiting.block).toEqual([]);
    expect(started(plan([a, doneItem('dep')], CONFIG, state()))).toEqual(['a']);
  });

  it('takes a dependency on an item in done/ known by its id alone as met', () => {
    const a = item('a', { depends_on: ['finished-long-ago'] });
    expect(started(plan([a], CONFIG, state({ finished: new Set(['finished-long-ago']) })))).toEqual(['a']);
    const p = plan([a], CONFIG, state({ finished: new Set(['other']) }));
    expect(blocked(p)).toEqual(['a']);
    expect(p.block[0]?.reason).toMatch(/depends on finished-long-ago, which no item has as id/);
  });

  it('waits on a dependency that is blocked, not yet done', () => {
    const p = plan([item('a', { depends_on: ['b'] }), item('b', { location: 'blocked' })], CONFIG, state());
    expect(p.start).toEqual([]);
    expect(p.block).toEqual([]);
  });

  it('lists an item whose dependency is blocked as stuck: it moves once a human unblocks the dependency', () => {
    const p = plan([item('a', { depends_on: ['b'] }), item('b', { location: 'blocked' })], CONFIG, state());
    expect(p.stuck.map((i) => i.id)).toEqual(['a']);
    expect(plan([item('a', { depends_on: ['b'] }), item('b', { location: 'design' })], CONFIG, state()).stuck).toEqual(
      [],
    );
  });

  it('blocks an item that depends on an id no item has, naming it', () => {
    const p = plan([item('a', { depends_on: ['done-one', 'ghost'] }), doneItem('done-one')], CONFIG, state());
    expect(p.start).toEqual([]);
    expect(p.block).toHaveLength(1);
    expect(p.block[0]?.item.id).toBe('a');
    expect(p.block[0]?.reason).toMatch(/depends on ghost, which no item has as id/);
    expect(p.block[0]?.reason).not.toMatch(/done-one/);
  });

  it('waits, without blocking, on a dependency that exists but is invalid', () => {
    const p = plan([item('a', { depends_on: ['broken'] })], CONFIG, state({ invalidIds: new Set(['broken']) }));
    expect(p.start).toEqual([]);
    expect(p.block).toEqual([]);
  });

  it('blocks both items of a two-item cycle, with the cycle in the reason', () => {
    const p = plan(
      [item('a', { depends_on: ['b'] }), item('b', { depends_on: ['a'], location: 'design' })],
      CONFIG,
      state(),
    );
    expect(p.start).toEqual([]);
    expect(Object.fromEntries(p.block.map((b) => [b.item.id, b.reason]))).toEqual({
      a: expect.stringContaining('dependency cycle a -> b -> a'),
      b: expect.stringContaining('dependency cycle b -> a -> b'),
    });
  });

  it('blocks every item of a three-item cycle; an item that only depends on the cycle waits', () => {
    const items = [
      item('a', { depends_on: ['b'] }),
      item('b', { depends_on: ['c'] }),
      item('c', { depends_on: ['a'] }),
      item('outside', { depends_on: ['a'] }),
    ];
    const p = plan(items, CONFIG, state());
    expect(p.start).toEqual([]);
    expect(blocked(p).sort()).toEqual(['a', 'b', 'c']);
    expect(p.block.find((b) => b.item.id === 'a')?.reason).toMatch(/dependency cycle a -> b -> c -> a; remove one/);
  });

  it('blocks an item that depends on itself', () => {
    const p = plan([item('a', { depends_on: ['a'] })], CONFIG, state());
    expect(p.block).toEqual([
      { item: expect.objectContaining({ id: 'a' }), reason: expect.stringContaining('a -> a') },
    ]);
  });

  it('does not mistake a shared dependency (a diamond) for a cycle', () => {
    const items = [
      item('top', { depends_on: ['l', 'r'] }),
      item('l', { depends_on: ['base'] }),
      item('r', { depends_on: ['base'] }),
      doneItem('base'),
    ];
    const p = plan(items, CONFIG, state());
    expect(p.block).toEqual([]);
    expect(started(p).sort()).toEqual(['l', 'r']);
  });
});

describe('plan: concurrency', () => {
  it('starts at most freeSlots items, the most urgent first', () => {
    const items = ['a', 'b', 'c', 'd'].map((id, i) => item(id, { location: 'design', priority: 4 - i }));
    expect(started(plan(items, CONFIG, state({ freeSlots: 2 })))).toEqual(['d', 'c']);
    expect(started(plan(items, CONFIG, state({ freeSlots: 0 })))).toEqual([]);
  });

  it('respects a pipeline per-phase limit, counting the builds already running', () => {
    const items = [item('b1'), item('b2'), item('b3'), item('d1', { location: 'design' })];
    const twoBuilding = new Map([
      ['x', 'build'],
      ['y', 'build'],
    ]);
    expect(started(plan(items, CONFIG, state({ active: twoBuilding, freeSlots: 5 })))).toEqual(['d1']);
    expect(started(plan(items, CONFIG, state({ active: new Map([['x', 'build']]), freeSlots: 5 })))).toEqual([
      'b1',
      'd1',
    ]);
    expect(started(plan(items, CONFIG, state({ freeSlots: 5 })))).toEqual(['b1', 'b2', 'd1']);
  });

  it('an item held back takes neither a slot nor a place in its phase limit: the next in order starts', () => {
    const capped = config([coding({ build: 2 })], { budget: { per_item_usd: 2 } });
    const items = [
      item('needs-dep', { priority: 1, depends_on: ['dep'] }),
      item('dep', { location: 'prd', status: 'waiting' }),
      item('backing-off', { priority: 1, status: 'failed', resume_at: new Date(NOW + 60_000).toISOString() }),
      item('over-budget', { priority: 1, cost_usd: 5 }),
      item('next', { priority: 2 }),
      item('last', { priority: 3 }),
    ];
    expect(started(plan(items, capped, state({ freeSlots: 1 })))).toEqual(['next']);
    expect(started(plan(items, capped, state({ freeSlots: 5 })))).toEqual(['next', 'last']);
  });

  it('never starts an item this run is already working on', () => {
    const items = [item('a', { status: 'running' }), item('b')];
    const p = plan(items, CONFIG, state({ active: new Map([['a', 'build']]) }));
    expect(started(p)).toEqual(['b']);
  });

  it('leaves alone an item another run holds (status running)', () => {
    expect(plan([item('a', { status: 'running', owner: 'laptop:42' })], CONFIG, state()).start).toEqual([]);
  });
});

describe('plan: waiting, retrying and parked items', () => {
  it('reports an item waiting for a human, and one a human approved', () => {
    const p = plan(
      [
        item('w', { status: 'waiting', location: 'prd' }),
        item('ok', { status: 'waiting', approved: true, location: 'prd' }),
      ],
      CONFIG,
      state(),
    );
    expect(p.waiting.map((i) => i.id)).toEqual(['w']);
    expect(p.approved).toHaveLength(1);
    expect(p.approved[0]).toMatchObject({ item: { id: 'ok' }, pipeline: { name: 'coding' }, phase: { name: 'prd' } });
    expect(p.start).toEqual([]);
  });

  it('holds a failed attempt until its backoff ends, then starts it', () => {
    const failed = (resumeAt: number) =>
      item('a', { status: 'failed', attempts: 1, resume_at: new Date(resumeAt).toISOString() });
    const p = plan([failed(NOW + 60_000)], CONFIG, state());
    expect(p.retrying.map((i) => i.id)).toEqual(['a']);
    expect(p.parked).toEqual([]);
    expect(p.start).toEqual([]);
    expect(started(plan([failed(NOW - 1)], CONFIG, state()))).toEqual(['a']);
  });

  it('parks a queued item until resume_at (a usage limit), then starts it', () => {
    const parked = (resumeAt: number) => item('a', { resume_at: new Date(resumeAt).toISOString() });
    const p = plan([parked(NOW + 3_600_000)], CONFIG, state());
    expect(p.parked.map((i) => i.id)).toEqual(['a']);
    expect(p.retrying).toEqual([]);
    expect(p.start).toEqual([]);
    expect(started(plan([parked(NOW)], CONFIG, state()))).toEqual(['a']);
  });

  it('a usage limit holds every item whose phase uses that agent until it resets; other agents go on', () => {
    const twoAgents = config([pipeline('quick-fix', ['triage', phase('build', { agent: 'codex' }), 'review'])], {
      agent: 'claude',
    });
    const until = new Date(NOW + 3_600_000).toISOString();
    const holder = item('holder', { location: 'triage', resume_at: until });
    holder.parsed.data.limited_by = 'claude';
    const items = [holder, item('same', { location: 'review' }), item('other', { location: 'build' })];
    const p = plan(items, twoAgents, state());
    expect(p.parked.map((i) => i.id)).toEqual(['holder']);
    expect(p.limited).toEqual([{ item: items[1], agent: 'claude', until }]);
    expect(started(p)).toEqual(['other']);
    // At the reset, or with --agent naming another agent, nothing is held.
    expect(started(plan(items, twoAgents, state({ now: NOW + 3_600_000 }))).sort()).toEqual([
      'holder',
      'other',
      'same',
    ]);
    expect(started(plan(items, twoAgents, state({ agent: 'dry-run' }))).sort()).toEqual(['other', 'same']);
  });
});

describe('plan: budget', () => {
  const capped = config([coding()], { budget: { per_run_usd: 5, per_item_usd: 2 } });

  it('starts nothing once the run has spent budget.per_run_usd', () => {
    expect(plan([item('a')], capped, state({ spentUsd: 5 })).start).toEqual([]);
    expect(plan([item('a')], capped, state({ spentUsd: 7.5 })).block).toEqual([]);
    expect(started(plan([item('a')], capped, state({ spentUsd: 4.99 })))).toEqual(['a']);
  });

  it('says when budget.per_run_usd kept an item from starting, and only then', () => {
    expect(plan([item('a')], capped, state({ spentUsd: 5 })).budgetReached).toBe(true);
    expect(plan([item('a')], capped, state({ spentUsd: 4.99 })).budgetReached).toBe(false);
    expect(plan([doneItem('a')], capped, state({ spentUsd: 5 })).budgetReached).toBe(false);
  });

  it('budget.per_day_usd: nothing starts once the last 24 hours have spent it, and the plan says which cap', () => {
    const daily = config([coding()], { budget: { per_day_usd: 10 } });
    expect(started(plan([item('a')], daily, state({ daySpentUsd: 9.99 })))).toEqual(['a']);
    const held = plan([item('a')], daily, state({ daySpentUsd: 10 }));
    expect(held.start).toEqual([]);
    expect(held).toMatchObject({ budgetReached: true, cap: 'budget.per_day_usd' });
    // Both reached: the run's own cap is named first.
    const both = config([coding()], { budget: { per_day_usd: 10, per_run_usd: 1 } });
    expect(plan([item('a')], both, state({ spentUsd: 1, daySpentUsd: 10 })).cap).toBe('budget.per_run_usd');
    expect(plan([item('a')], daily, state()).cap).toBeUndefined();
  });

  it('heldByCap: only an item that would start a phase is held', () => {
    const daily = config([coding()], { budget: { per_day_usd: 10 } });
    const cap = capReached(daily, { dayUsd: 12 });
    expect(cap).toBe('budget.per_day_usd');
    expect(heldByCap(item('a'), daily, cap)).toBe('budget.per_day_usd');
    expect(heldByCap(item('f', { status: 'failed' }), daily, cap)).toBe('budget.per_day_usd');
    expect(heldByCap(item('w', { status: 'waiting' }), daily, cap)).toBeUndefined();
    expect(heldByCap(doneItem('d'), daily, cap)).toBeUndefined();
    expect(heldByCap(item('a'), daily, capReached(daily, { dayUsd: 9 }))).toBeUndefined();
  });

  it('blocks an item that has spent budget.per_item_usd, with the amounts in the reason', () => {
    const p = plan([item('a', { cost_usd: 2 }), item('b', { cost_usd: 1.99 })], capped, state());
    expect(started(p)).toEqual(['b']);
    expect(p.block).toEqual([
      {
        item: expect.objectContaining({ id: 'a' }),
        reason: expect.stringMatching(/spent \$2\.00, at or over budget\.per_item_usd \(\$2\.00\)/),
      },
    ]);
  });

  it('has no cap when no budget is set', () => {
    expect(started(plan([item('a', { cost_usd: 1000 })], CONFIG, state({ spentUsd: 1000 })))).toEqual(['a']);
  });
});

describe('nextPhase', () => {
  const p = coding();

  it('is the following phase, undefined after the last', () => {
    expect(nextPhase(p, 'triage')?.name).toBe('research');
    expect(nextPhase(p, 'build')?.name).toBe('review');
    expect(nextPhase(p, 'review')).toBeUndefined();
  });

  it('is the first phase for a name the pipeline does not have (intake, or a pipeline switched by triage)', () => {
    expect(nextPhase(p, 'inbox')?.name).toBe('triage');
  });
});
