// Commits read back as transitions (`tend log`): what commitMessage writes comes back whole; what
// a person wrote by hand is kept as written and marked when it cannot be read.
import { describe, expect, it } from 'vitest';
import {
  gitDate,
  logTotals,
  parseLog,
  parseTrailers,
  readTransition,
  transitionsFrom,
  type CommitRecord,
} from '../../src/core/transition-log.js';
import { commitMessage, type Transition } from '../../src/core/transition.js';

const HASH = 'a'.repeat(40);
const TIME = '2025-12-01T01:00:00+00:00';

function record(trailers: [string, string][], subject = 'tend: x'): CommitRecord {
  return { commit: HASH, time: TIME, author: 'Test User', subject, trailers };
}

/** The record git would give for a commit whose message commitMessage wrote. */
function recordOf(t: Transition): CommitRecord {
  const message = commitMessage(t);
  const [subject = '', trailerText = ''] = message.split('\n\n');
  return record(parseTrailers(trailerText), subject);
}

describe('readTransition', () => {
  it('reads back every trailer commitMessage writes, the model apart from the agent', () => {
    const t = readTransition(
      recordOf({
        id: 'fix-login',
        summary: 'prd -> tech-research',
        phase: 'prd',
        outcome: 'done',
        agent: 'claude (opus)',
        durationMs: 94_400,
        costUsd: 0.4123,
        extra: { 'Tend-Attempt': '2', 'Tend-Tokens': '10450 in, 2200 out' },
      }),
    );
    expect(t).toEqual({
      commit: HASH,
      time: TIME,
      author: 'Test User',
      subject: 'tend: fix-login prd -> tech-research',
      item: 'fix-login',
      phase: 'prd',
      outcome: 'done',
      agent: 'claude',
      model: 'opus',
      durationSeconds: 94,
      costUsd: 0.41,
      costUnknown: false,
      attempt: 2,
      trailers: {
        'Tend-Item': 'fix-login',
        'Tend-Phase': 'prd',
        'Tend-Outcome': 'done',
        'Tend-Agent': 'claude (opus)',
        'Tend-Duration': '94s',
        'Tend-Cost-USD': '0.41',
        'Tend-Attempt': '2',
        'Tend-Tokens': '10450 in, 2200 out',
      },
      malformed: [],
    });
  });

  it('an unknown cost is unknown, never zero', () => {
    const t = readTransition(recordOf({ id: 'x', summary: 's', outcome: 'failed', costUsd: 0, costUnknown: true }));
    expect(t).toMatchObject({ costUsd: null, costUnknown: true, malformed: [] });
    expect(logTotals(t ? [t] : [])).toEqual({ count: 1, knownUsd: 0, unknown: 1, malformedCost: 0 });
  });

  it('a commit with neither Tend-Item nor Tend-Outcome is not a transition', () => {
    expect(readTransition(record([]))).toBeUndefined();
    expect(readTransition(record([['Signed-off-by', 'A Person <a@example.com>']]))).toBeUndefined();
    expect(readTransition(record([['Tend-Reason', 'only this']]))).toBeUndefined();
  });

  it("tend init's commit has an outcome and no item", () => {
    expect(readTransition(record([['Tend-Outcome', 'init']]))).toMatchObject({
      item: null,
      phase: null,
      outcome: 'init',
      malformed: [],
    });
  });

  it.each([
    ['Tend-Cost-USD', 'abc'],
    ['Tend-Cost-USD', '-1'],
    ['Tend-Cost-USD', ''],
    ['Tend-Cost-USD', '1e3'],
    ['Tend-Duration', 'soon'],
    ['Tend-Duration', '-5s'],
    ['Tend-Attempt', 'two'],
    ['Tend-Outcome', 'exploded'],
  ])('%s: %j is kept as written and marked malformed', (key, value) => {
    const trailers: [string, string][] = [
      ['Tend-Item', 'x'],
      ['Tend-Outcome', 'done'],
    ];
    const t = readTransition(record([...trailers.filter(([k]) => k !== key), [key, value]]));
    expect(t?.malformed).toEqual([key]);
    expect(t?.trailers[key]).toBe(value);
  });

  it('an item without an outcome is marked: tend always writes one', () => {
    expect(readTransition(record([['Tend-Item', 'x']]))).toMatchObject({ item: 'x', outcome: null });
    expect(readTransition(record([['Tend-Item', 'x']]))?.malformed).toEqual(['Tend-Outcome']);
  });

  it('keys are read without regard to case, as git reads them; the last of a repeated key counts', () => {
    const t = readTransition(
      record([
        ['tend-item', 'x'],
        ['TEND-OUTCOME', 'done'],
        ['Tend-Cost-USD', '1.00'],
        ['Tend-Cost-USD', '2.50'],
      ]),
    );
    expect(t).toMatchObject({ item: 'x', outcome: 'done', costUsd: 2.5, malformed: [] });
  });

  it('an agent label without a model, or with parentheses of its own, is the agent', () => {
    const agent = (label: string) =>
      readTransition(
        record([
          ['Tend-Outcome', 'done'],
          ['Tend-Agent', label],
        ]),
      );
    expect(agent('dry-run')).toMatchObject({ agent: 'dry-run', model: null });
    expect(agent('my (agent)')).toMatchObject({ agent: 'my', model: 'agent' });
    expect(agent('(odd)')).toMatchObject({ agent: '(odd)', model: null });
  });
});

describe('parseLog', () => {
  const raw = (...records: string[][]) => records.map((fields) => fields.map((f) => `${f}\0`).join('')).join('');

  it('reads NUL-terminated records whatever their subjects hold', () => {
    const odd = 'tabs\there, \x1f\x1e separators, $(rm -rf /) `x` "q" é 漢字 \x1b[31mred';
    const out = raw(
      [HASH, TIME, 'Ann', odd, 'Tend-Item: x\nTend-Outcome: done\n'],
      ['b'.repeat(40), TIME, 'Bob', 'plain', ''],
    );
    expect(parseLog(out)).toEqual([
      {
        commit: HASH,
        time: TIME,
        author: 'Ann',
        subject: odd,
        trailers: [
          ['Tend-Item', 'x'],
          ['Tend-Outcome', 'done'],
        ],
      },
      { commit: 'b'.repeat(40), time: TIME, author: 'Bob', subject: 'plain', trailers: [] },
    ]);
  });

  it('nothing for no output, and a record cut off part way is left out', () => {
    expect(parseLog('')).toEqual([]);
    expect(parseLog(`${HASH}\0${TIME}\0Ann\0`)).toEqual([]);
  });
});

describe('transitionsFrom and logTotals', () => {
  const records = [
    record([
      ['Tend-Item', 'a'],
      ['Tend-Outcome', 'done'],
      ['Tend-Cost-USD', '0.10'],
    ]),
    record([]),
    record([
      ['Tend-Item', 'b'],
      ['Tend-Outcome', 'failed'],
      ['Tend-Cost-USD', 'unknown'],
    ]),
    record([
      ['Tend-Item', 'a'],
      ['Tend-Outcome', 'done'],
      ['Tend-Cost-USD', '0.20'],
    ]),
    record([
      ['Tend-Item', 'c'],
      ['Tend-Outcome', 'done'],
      ['Tend-Cost-USD', 'abc'],
    ]),
    record([
      ['Tend-Item', 'c'],
      ['Tend-Outcome', 'claimed'],
    ]),
  ];

  it('skips commits that are not transitions and keeps the order', () => {
    expect(transitionsFrom(records).map((t) => `${t.item} ${t.outcome}`)).toEqual([
      'a done',
      'b failed',
      'a done',
      'c done',
      'c claimed',
    ]);
  });

  it('filters by item and by outcome', () => {
    expect(transitionsFrom(records, { id: 'a' })).toHaveLength(2);
    expect(transitionsFrom(records, { outcomes: ['failed', 'claimed'] }).map((t) => t.item)).toEqual(['b', 'c']);
    expect(transitionsFrom(records, { id: 'a', outcomes: ['failed'] })).toEqual([]);
  });

  it('totals: known costs added without float dust, unknown and malformed counted apart', () => {
    expect(logTotals(transitionsFrom(records))).toEqual({ count: 5, knownUsd: 0.3, unknown: 1, malformedCost: 1 });
    expect(logTotals([])).toEqual({ count: 0, knownUsd: 0, unknown: 0, malformedCost: 0 });
  });
});

describe('gitDate', () => {
  it('a bare date is midnight; anything else is left to git', () => {
    expect(gitDate('2026-12-01')).toBe('2026-12-01 00:00');
    expect(gitDate(' 2026-12-01 ')).toBe('2026-12-01 00:00');
    expect(gitDate('2026-12-01 18:00')).toBe('2026-12-01 18:00');
    expect(gitDate('12 hours ago')).toBe('12 hours ago');
  });
});
