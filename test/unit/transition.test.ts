// Commit messages of transitions: a readable subject and parseable trailers, as the README shows them.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { commitMessage, OUTCOMES } from '../../src/core/transition.js';

describe('outcomes', () => {
  it("the README's list of outcomes is the Outcome type's, verbatim and in order", () => {
    const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
    const paragraph = /^Outcomes: ([\s\S]*?)\n\n/m.exec(readme)?.[1] ?? '';
    // Each outcome is the first code span of its entry; what follows in parentheses explains it.
    const listed = paragraph.replace(/\([^)]*\)/g, '').match(/`[a-z-]+`/g) ?? [];
    expect(listed.map((name) => name.slice(1, -1))).toEqual([...OUTCOMES]);
  });
});

describe('commitMessage', () => {
  it('writes the subject and trailers the README shows', () => {
    const message = commitMessage({
      id: 'fix-login-on-safari',
      summary: 'prd -> tech-research',
      phase: 'prd',
      outcome: 'done',
      agent: 'claude (opus)',
      durationMs: 94_400,
      costUsd: 0.4123,
    });
    expect(message).toBe(
      [
        'tend: fix-login-on-safari prd -> tech-research',
        '',
        'Tend-Item: fix-login-on-safari',
        'Tend-Phase: prd',
        'Tend-Outcome: done',
        'Tend-Agent: claude (opus)',
        'Tend-Duration: 94s',
        'Tend-Cost-USD: 0.41',
        '',
      ].join('\n'),
    );
  });

  it('leaves out trailers that do not apply and appends extra ones', () => {
    expect(
      commitMessage({
        id: 'a',
        summary: 'added',
        outcome: 'added',
        costUsd: 0,
        extra: { 'Tend-Reason': 'too\nmany   failures' },
      }),
    ).toBe('tend: a added\n\nTend-Item: a\nTend-Outcome: added\nTend-Cost-USD: 0.00\nTend-Reason: too many failures\n');
  });

  it('writes `Tend-Cost-USD: unknown` when the agent reported no cost, not $0.00', () => {
    expect(
      commitMessage({ id: 'a', summary: 'build -> review', outcome: 'done', costUsd: 0, costUnknown: true }),
    ).toContain('\nTend-Cost-USD: unknown\n');
  });

  it('keeps a multi-line summary on the subject line, so it cannot forge trailers', () => {
    const message = commitMessage({ id: 'a', summary: 'blocked: bad\n\nTend-Outcome: done', outcome: 'blocked' });
    expect(message.split('\n')[0]).toBe('tend: a blocked: bad Tend-Outcome: done');
    expect(message.match(/^Tend-Outcome: .*$/gm)).toEqual(['Tend-Outcome: blocked']);
  });
});
