// The report's figures from a scripted night of transitions and item files: each figure below
// is worked out by hand from the transitions listed here.
import { describe, expect, it } from 'vitest';
import {
  buildReport,
  excerpt,
  formatMoney,
  lensTable,
  median,
  type ReportInput,
  type ReportItemInput,
} from '../../src/core/report.js';
import { reportMarkdown, wrapLines } from '../../src/core/report-md.js';
import { reportHtml } from '../../src/core/report-html.js';
import { readTransition, type LoggedTransition } from '../../src/core/transition-log.js';

let n = 0;
/** A transition as `tend log` reads it back from a commit with these trailers. */
function tr(time: string, subject: string, trailers: Record<string, string>): LoggedTransition {
  n++;
  const commit = n.toString(16).padStart(40, '0');
  const read = readTransition({
    commit,
    time,
    author: 'tend',
    subject,
    trailers: Object.entries(trailers),
  });
  if (!read) throw new Error('not a transition');
  return read;
}

function run(id: string, phase: string, outcome: string, agent: string, seconds: number, cost: string, extra = {}) {
  return {
    'Tend-Item': id,
    'Tend-Phase': phase,
    'Tend-Outcome': outcome,
    'Tend-Agent': agent,
    'Tend-Duration': `${seconds}s`,
    'Tend-Cost-USD': cost,
    ...extra,
  };
}

const OPUS = 'claude (opus)';
/** Oldest first here; git log gives them newest first, as the report expects. */
const NIGHT = [
  tr('2025-12-01T22:00:00Z', 'tend: alpha build -> review', run('alpha', 'build', 'done', OPUS, 100, '0.40')),
  tr('2025-12-01T22:10:00Z', 'tend: beta build failed (attempt 1)', {
    ...run('beta', 'build', 'failed', 'codex', 50, 'unknown'),
    'Tend-Attempt': '1',
    'Tend-Reason': 'exit code 1',
  }),
  tr('2025-12-01T22:20:00Z', 'tend: beta build -> review', run('beta', 'build', 'done', 'codex', 70, 'unknown')),
  tr(
    '2025-12-01T22:30:00Z',
    'tend: alpha review -> build (rejected, round 1)',
    run('alpha', 'review', 'rejected', OPUS, 30, '0.10'),
  ),
  tr('2025-12-01T22:40:00Z', 'tend: alpha build -> review', run('alpha', 'build', 'done', OPUS, 60, '0.20')),
  tr('2025-12-01T22:50:00Z', 'tend: alpha review -> done', run('alpha', 'review', 'done', OPUS, 40, '0.30')),
  tr('2025-12-01T23:00:00Z', 'tend: gamma prd parked until 2025-12-02T03:00:00Z (usage limit)', {
    ...run('gamma', 'prd', 'parked', 'claude', 10, '0.05'),
    'Tend-Reason': "You've hit your limit · resets 3am",
  }),
  tr('2025-12-01T23:10:00Z', 'tend: delta prd waiting', run('delta', 'prd', 'waiting', 'claude (sonnet)', 20, '0.15')),
  tr('2025-12-01T23:20:00Z', 'tend: epsilon design -> prd (rejected)', {
    'Tend-Item': 'epsilon',
    'Tend-Phase': 'design',
    'Tend-Outcome': 'rejected',
    'Tend-Reason': 'too vague',
  }),
].reverse();

const REVIEW = [
  '---',
  'verdict: approve',
  '---',
  '# review of Alpha',
  '',
  '2 lenses; the verdict is reject if any lens rejects or gives none.',
  '',
  '| lens | verdict | summary | file |',
  '| --- | --- | --- | --- |',
  '| correctness | approve | no blockers, a \\| pipe | review-correctness.md |',
  '| tests | approve | covered | ../../etc/passwd |',
  '',
  '## correctness',
].join('\n');

const ALPHA: ReportItemInput = {
  id: 'alpha',
  title: 'Alpha feature',
  location: 'done',
  status: 'queued',
  file: 'backlog/done/alpha/item.md',
  body: '# Alpha\n\nMake the login work on Safari.\nIt fails on submit.\n\nMore detail.',
  branch: 'tend/alpha',
  artifacts: [
    { path: 'backlog/done/alpha/build.md', text: '# Build\n\nChanged the form handler to await the token.\n' },
    { path: 'backlog/done/alpha/review-correctness.md' },
    { path: 'backlog/done/alpha/review.md', text: REVIEW },
    { path: 'backlog/done/alpha/spec.md', text: '# Spec\n\nA spec.' },
  ],
  change: { files: 3, insertions: 40, deletions: 2, of: 'main...tend/alpha' },
};

const ITEMS: ReportItemInput[] = [
  ALPHA,
  {
    id: 'zeta',
    title: 'Zeta',
    location: 'blocked',
    status: 'failed',
    file: 'backlog/blocked/zeta/item.md',
    body: '',
    blockedReason: 'review rejected the work 3 times (max_loops: 2); read backlog/blocked/zeta/review.md',
    blockedPhase: 'build',
    artifacts: [],
  },
  {
    id: 'eta',
    title: 'Eta',
    location: 'blocked',
    status: 'failed',
    file: 'backlog/blocked/eta/item.md',
    body: '',
    blockedReason: 'build failed 3 times: exit code 1',
    blockedPhase: 'build',
    artifacts: [],
  },
  {
    id: 'delta',
    title: 'Delta',
    location: 'prd',
    status: 'waiting',
    file: 'backlog/prd/delta/item.md',
    body: '',
    waitingOn: 'backlog/prd/delta/PRD.md',
    artifacts: [{ path: 'backlog/prd/delta/PRD.md', text: '# PRD' }],
  },
];

const INPUT: ReportInput = {
  window: { since: '2025-12-01 18:00', until: '2025-12-02 08:00' },
  transitions: NIGHT,
  items: ITEMS,
  concurrency: 2,
};

describe('buildReport over a scripted night', () => {
  const report = buildReport(INPUT);

  it('puts approvals first, then rejections to answer, then blocked items, each with the command', () => {
    expect(report.attention.map((a) => [a.kind, a.id, a.phase, a.commands])).toEqual([
      ['approval', 'delta', 'prd', ['tend approve delta', 'tend reject delta --reason "what must change"']],
      ['rejection', 'zeta', 'build', ['tend retry zeta']],
      ['blocked', 'eta', 'build', ['tend retry eta']],
    ]);
    expect(report.attention[0]?.reason).toBe('read backlog/prd/delta/PRD.md, then approve or reject it');
    expect(report.attention[2]?.reason).toBe('build failed 3 times: exit code 1');
  });

  it('finished: what was asked, what was built, the verdict table, branch, size, links and cost', () => {
    expect(report.finished).toHaveLength(1);
    const [alpha] = report.finished;
    expect(alpha).toMatchObject({
      id: 'alpha',
      title: 'Alpha feature',
      time: '2025-12-01T22:50:00Z',
      asked: 'Make the login work on Safari. It fails on submit.',
      built: 'Changed the form handler to await the token.',
      branch: 'tend/alpha',
      pr: null,
      change: { files: 3, insertions: 40, deletions: 2, of: 'main...tend/alpha' },
      cost: { knownUsd: 1, unknown: 0, runs: 4 },
    });
    expect(alpha?.review).toEqual({
      verdict: 'approve',
      file: 'backlog/done/alpha/review.md',
      lenses: [
        {
          lens: 'correctness',
          verdict: 'approve',
          summary: 'no blockers, a | pipe',
          file: 'backlog/done/alpha/review-correctness.md',
        },
        // A path that leaves the item folder is not linked.
        { lens: 'tests', verdict: 'approve', summary: 'covered', file: null },
      ],
    });
  });

  it('failures, retries, review loops (by a review and by a person) and parking', () => {
    const { failures, retried, reviewLoops, parked } = report.trouble;
    expect(failures).toEqual([
      {
        time: '2025-12-01T22:10:00Z',
        id: 'beta',
        phase: 'build',
        outcome: 'failed',
        attempt: 1,
        reason: 'exit code 1',
      },
    ]);
    expect(retried).toEqual([{ id: 'beta', phase: 'build', failed: 1, latest: 'done' }]);
    expect(reviewLoops.map((l) => [l.id, l.by, l.backTo, l.round, l.reason])).toEqual([
      ['alpha', 'agent', 'build', 1, ''],
      ['epsilon', 'person', 'prd', null, 'too vague'],
    ]);
    expect(parked).toEqual([
      {
        time: '2025-12-01T23:00:00Z',
        id: 'gamma',
        phase: 'prd',
        until: '2025-12-02T03:00:00Z',
        reason: "You've hit your limit · resets 3am",
      },
    ]);
  });

  it('time: median and longest per phase, makespan, and how busy two slots were', () => {
    expect(report.time.phases).toEqual([
      { phase: 'build', runs: 4, medianSeconds: 65, longestSeconds: 100, longestItem: 'alpha' },
      { phase: 'review', runs: 2, medianSeconds: 35, longestSeconds: 40, longestItem: 'alpha' },
      { phase: 'prd', runs: 2, medianSeconds: 15, longestSeconds: 20, longestItem: 'delta' },
    ]);
    // 22:00 to 23:20; 380 s of agent time in 2 × 4,800 s of slots.
    expect(report.time).toMatchObject({ makespanSeconds: 4800, busySeconds: 380, concurrency: 2, busyShare: 0.04 });
    expect(buildReport({ ...INPUT, concurrency: null }).time.busyShare).toBeNull();
  });

  it('money per item, phase, agent and model; unknown costs counted, never zero', () => {
    const { total, items, phases, agents } = report.money;
    expect(total).toEqual({ knownUsd: 1.2, unknown: 2, runs: 8 });
    expect(items).toEqual([
      { key: 'alpha', knownUsd: 1, unknown: 0, runs: 4 },
      { key: 'delta', knownUsd: 0.15, unknown: 0, runs: 1 },
      { key: 'gamma', knownUsd: 0.05, unknown: 0, runs: 1 },
      { key: 'beta', knownUsd: 0, unknown: 2, runs: 2 },
    ]);
    expect(phases.map((p) => [p.key, formatMoney(p)])).toEqual([
      ['build', '$0.60 + unknown (2 runs)'],
      ['review', '$0.40'],
      ['prd', '$0.20'],
    ]);
    expect(agents.map((a) => [a.key, formatMoney(a)])).toEqual([
      ['claude (opus)', '$1.00'],
      ['claude (sonnet)', '$0.15'],
      ['claude', '$0.05'],
      ['codex', 'unknown (2 runs)'],
    ]);
    expect(formatMoney(total)).toBe('$1.20 + unknown (2 runs)');
  });

  it('the window and its first and last transitions', () => {
    expect(report.window).toEqual({
      since: '2025-12-01 18:00',
      until: '2025-12-02 08:00',
      first: '2025-12-01T22:00:00Z',
      last: '2025-12-01T23:20:00Z',
    });
    expect(report.transitions).toBe(9);
  });
});

describe('an empty window', () => {
  const report = buildReport({
    window: { since: '1 hour ago', until: null },
    transitions: [],
    items: [],
    concurrency: 1,
  });

  it('has nothing in it, and says so', () => {
    expect(report).toMatchObject({
      transitions: 0,
      attention: [],
      finished: [],
      time: { phases: [], makespanSeconds: 0, busySeconds: 0, busyShare: null },
      money: { total: { knownUsd: 0, unknown: 0, runs: 0 }, items: [], phases: [], agents: [] },
    });
    const md = reportMarkdown(report);
    expect(md).toContain('Nothing happened in this window: no transition was committed.');
    expect(md).toContain('Nothing waits for a person.');
    expect(md).toContain('Nothing was finished in this window.');
  });
});

describe('the Markdown', () => {
  const md = reportMarkdown(buildReport(INPUT), { linkPrefix: '../' });

  it('has its sections in order: waiting first, money last', () => {
    const headings = md.split('\n').filter((l) => l.startsWith('## '));
    expect(headings).toEqual([
      '## Waiting for you (3)',
      '## Finished (1)',
      '## Failed, retried, sent back, parked',
      '## Time',
      '## Money',
    ]);
  });

  it('names the commands, the figures and links the artifacts from where the report is', () => {
    expect(md).toContain('  run `tend approve delta` or `tend reject delta --reason "what must change"`');
    expect(md).toContain('  run `tend retry zeta`');
    expect(md).toContain('- change: 3 files changed, +40 -2 (`main...tend/alpha`)');
    expect(md).toContain('- finished 2025-12-01 22:50 UTC, cost $1.00');
    expect(md).toContain('[review.md](../backlog/done/alpha/review.md)');
    expect(md).toContain('| correctness | approve | no blockers, a \\| pipe |\n');
    expect(md).toContain('[spec.md](../backlog/done/alpha/spec.md)');
    expect(md).toMatch(/\(and 1 lens\s+review\s+beside\s+review\.md\)/);
    expect(md).toContain('| build | 4 | 1m5s | 1m40s (`alpha`) |');
    expect(md).toContain('- agent slots busy: 4% (busy / (makespan × concurrency 2))');
    expect(md).toContain('| `beta` | unknown (2 runs) | 2 |');
    expect(md).toContain('Total: $1.20 + unknown (2 runs) over 8 agent runs.');
    expect(md).toContain('- retried: `beta` build failed once, then passed');
    expect(md).toContain('- sent back: `epsilon` by a person to prd: too vague');
  });

  it('keeps what agents wrote from becoming markup', () => {
    const hostile = { ...ALPHA, title: 'x <script>alert(1)</script> [a](javascript:b)' };
    const out = reportMarkdown(buildReport({ ...INPUT, items: [hostile] }));
    expect(out).toContain('x \\<script\\>alert(1)\\</script\\> \\[a\\](javascript:b)');
    const html = reportHtml(out, 'r');
    expect(html).not.toContain('<script>');
    expect(html).not.toContain('href="javascript');
  });
});

describe('wrapLines', () => {
  it('breaks prose and list items at 100 columns, keeps code spans and tables whole', () => {
    const item = `- ${'word '.repeat(19)}\`tend reject x --reason "why"\` end`;
    const table = `| ${'cell '.repeat(30)}|`;
    const wrapped = wrapLines([item, table, 'short']);
    expect(wrapped).toEqual([
      `- ${'word '.repeat(19).trimEnd()}`,
      '  `tend reject x --reason "why"` end',
      table,
      'short',
    ]);
    expect(wrapLines(['x'.repeat(120)])).toEqual(['x'.repeat(120)]);
  });
});

describe('reportHtml', () => {
  it('is one page with its style inline and the tables rendered', () => {
    const html = reportHtml(reportMarkdown(buildReport(INPUT)), 'tend report: <night>');
    expect(html.startsWith('<!doctype html>')).toBe(true);
    expect(html).toContain('<title>tend report: &lt;night&gt;</title>');
    expect(html).toContain('<style>');
    expect(html).not.toMatch(/<link|<script|src="http/);
    expect(html).toContain('<h2>Waiting for you (3)</h2>');
    expect(html).toContain('<td>build</td>');
  });
});

describe('pieces', () => {
  it('excerpt: the first paragraph of prose, cut at a word', () => {
    expect(excerpt('---\nverdict: approve\n---\n# Title\n\n| a |\n\nFirst  words\nhere.\n\nSecond.')).toBe(
      'First words here.',
    );
    expect(excerpt('```\ncode\n```\n\nAfter code.')).toBe('After code.');
    expect(excerpt('')).toBe('');
    const long = excerpt(`${'word '.repeat(200)}`);
    expect(long.endsWith('…')).toBe(true);
    expect(long.length).toBeLessThanOrEqual(401);
  });

  it('lensTable: none in a review without one', () => {
    expect(lensTable('verdict: approve\n\nFine.')).toEqual([]);
  });

  it('median of odd, even and no values', () => {
    expect([median([3, 1, 2]), median([4, 1, 2, 3]), median([])]).toEqual([2, 2.5, 0]);
  });

  it('formatMoney: known, unknown only, both', () => {
    expect(formatMoney({ knownUsd: 0, unknown: 0, runs: 0 })).toBe('$0.00');
    expect(formatMoney({ knownUsd: 0, unknown: 1, runs: 1 })).toBe('unknown (1 run)');
    expect(formatMoney({ knownUsd: 0.1, unknown: 3, runs: 4 })).toBe('$0.10 + unknown (3 runs)');
  });
});
