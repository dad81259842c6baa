// The verdict of a review as models write it, and what does not count as one.
import { describe, expect, it } from 'vitest';
import { readVerdict, verdictWord, VERDICT_LINES } from '../../src/core/verdict.js';

describe('readVerdict', () => {
  it.each([
    ['frontmatter', '---\nverdict: approve\n---\n# Review\n', 'approve'],
    ['frontmatter, upper case', '---\nverdict: REJECT\n---\n# Review\n', 'reject'],
    ['a first line', 'verdict: approve\n\n# Review\n', 'approve'],
    ['a capitalised first line', 'Verdict: APPROVE\n', 'approve'],
    ['bold label', '# Review\n\n**Verdict:** approve\n', 'approve'],
    ['bold value', 'Verdict: **REJECT**\n', 'reject'],
    ['a heading', '# Review of x\n\n## Verdict: reject\n', 'reject'],
    ['an em dash', 'Verdict — approve\n', 'approve'],
    ['a list item', '- **Verdict**: approved\n', 'approve'],
    ['approved', 'Verdict: Approved ✅\n', 'approve'],
    ['accept', 'verdict: accept\n', 'approve'],
    ['LGTM', 'Verdict: LGTM\n', 'approve'],
    ['rejected', 'Verdict: ❌ Rejected.\n', 'reject'],
    ['request changes', 'Verdict: request changes\n', 'reject'],
    ['changes requested', '**Verdict:** Changes requested\n', 'reject'],
    ['a verdict line after a rationale heading', '## Verdict rationale\n\nverdict: reject\n', 'reject'],
  ])('%s', (_what, text, verdict) => {
    expect(readVerdict(text)).toEqual({ verdict });
  });

  it('frontmatter wins over the body', () => {
    expect(readVerdict('---\nverdict: reject\n---\nVerdict: approve\n')).toEqual({ verdict: 'reject' });
  });

  it.each([
    ['no verdict at all', '# Review\n\nAll good.\n', /gives no verdict/],
    [
      'prose that mentions reject',
      '# Review\n\nI would not reject this; the tests reject bad input.\n',
      /gives no verdict/,
    ],
    [
      'a verdict too far down',
      `# Review\n\n${'Finding.\n'.repeat(VERDICT_LINES)}Verdict: approve\n`,
      /gives no verdict/,
    ],
    ['a verdict that is neither', 'Verdict: pending\n', /"Verdict: pending" says neither approve nor reject/],
    ['a frontmatter verdict that is neither', '---\nverdict: maybe\n---\n', /verdict: "maybe"/],
    ['a frontmatter verdict that is not text', '---\nverdict: true\n---\n', /verdict: true/],
  ])('%s is no verdict, with a reason', (_what, text, reason) => {
    const read = readVerdict(text);
    expect(read).toEqual({ problem: expect.stringMatching(reason) });
    expect('problem' in read && read.problem).toMatch(/`verdict: approve` or `verdict: reject`/);
  });

  it('an unreadable frontmatter falls back to the body', () => {
    expect(readVerdict('---\nverdict: approve\nverdict: reject\n---\nVerdict: approve\n')).toEqual({
      verdict: 'approve',
    });
  });
});

describe('verdictWord', () => {
  it('reads only words that decide', () => {
    expect(verdictWord('Approve with nits')).toBe('approve');
    expect(verdictWord('needs changes')).toBe('reject');
    expect(verdictWord('disapprove')).toBeUndefined();
    expect(verdictWord(1)).toBeUndefined();
  });
});
