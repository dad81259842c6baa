// What happens to an item after a phase attempt, an approval or a rejection (issue 3: retries,
// usage limits, verdicts, approve, triage), and the commit that records it.
import { describe, expect, it } from 'vitest';
import { BLOCKED, DONE } from '../../src/core/backlog.js';
import type { Phase } from '../../src/core/pipeline.js';
import {
  claimHeld,
  decideAfterPhase,
  decideApproval,
  decideBlock,
  decideClaim,
  decideHandChange,
  decideIntake,
  decideMergeFailed,
  decideRecovery,
  decideRedo,
  decideRejection,
  decideRequeueAfterError,
  decideRetry,
  decideStrayRequeue,
  DEFAULT_USAGE_LIMIT_WAIT_MS,
  MAX_LIMIT_WAITS,
  maxAttempts,
  type PhaseOutcome,
} from '../../src/core/decide.js';
import { commitMessage } from '../../src/core/transition.js';
import { coding, config, item, NOW, phase, pipeline, type ItemSpec } from './builders.js';

const CODING = coding();
const QUICK = pipeline('quick-fix', ['triage', 'build', 'review']);
const CONFIG = config([CODING, QUICK]);

const iso = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');

const phaseOf = (name: string): Phase => {
  const found = CODING.phases.find((p) => p.name === name);
  if (!found) throw new Error(`no phase ${name}`);
  return found;
};

const outcome = (extra: Partial<PhaseOutcome> = {}): PhaseOutcome => ({
  ok: true,
  costUsd: 0.25,
  durationMs: 94_000,
  agent: 'claude (opus)',
  ...extra,
});

/** A claimed item (the runner counts the attempt and sets the owner when it starts a phase). */
const claimed = (location: string, spec: ItemSpec = {}) =>
  item('fix-login', { location, status: 'running', owner: 'host:123', attempts: 1, cost_usd: 0.5, ...spec });

const after = (
  location: string,
  out: Partial<PhaseOutcome> = {},
  spec: ItemSpec = {},
  p: Phase = phaseOf(location),
  cfg = CONFIG,
) => decideAfterPhase(claimed(location, spec), CODING, p, outcome(out), cfg, NOW);

describe('decideAfterPhase: success', () => {
  it('moves to the next phase with attempts reset, the cost summed and the owner removed', () => {
    const d = after('prd');
    expect(d.to).toBe('tech-research');
    expect(d.changes).toStrictEqual({
      status: 'queued',
      attempts: 0,
      owner: undefined,
      approved: undefined,
      feedback: undefined,
      resume_at: undefined,
      limit_waits: undefined,
      cost_usd: 0.75,
    });
    expect(d.transition).toMatchObject({
      id: 'fix-login',
      phase: 'prd',
      summary: 'prd -> tech-research',
      outcome: 'done',
      costUsd: 0.25,
    });
  });

  it('sums costs without floating-point noise', () => {
    expect(after('prd', { costUsd: 0.2 }, { cost_usd: 0.1 }).changes.cost_usd).toBe(0.3);
  });

  it('moves to done/ after the last phase', () => {
    const d = after('review', { verdict: 'approve' });
    expect(d.to).toBe(DONE);
    expect(d.transition.summary).toBe('review -> done');
  });

  it('writes the trailers the README shows, plus the attempt and tokens', () => {
    const d = after('prd', { costUsd: 0.4123, tokens: { input: 1200, output: 300 } });
    const message = commitMessage(d.transition);
    expect(message.split('\n')[0]).toBe('tend: fix-login prd -> tech-research');
    for (const trailer of [
      'Tend-Item: fix-login',
      'Tend-Phase: prd',
      'Tend-Outcome: done',
      'Tend-Agent: claude (opus)',
      'Tend-Duration: 94s',
      'Tend-Cost-USD: 0.41',
      'Tend-Attempt: 1',
      'Tend-Tokens: 1200 in, 300 out',
    ]) {
      expect(message).toContain(`\n${trailer}\n`);
    }
  });

  it('leaves out Tend-Tokens when the agent reports none', () => {
    expect(commitMessage(after('prd').transition)).not.toContain('Tend-Tokens');
  });
});

describe('decideAfterPhase: failure and retries', () => {
  it('retries a failed attempt after retry_backoff, doubling with each attempt', () => {
    const first = after('build', { ok: false, failure: 'the agent exited 1' }, { attempts: 1 });
    expect(first.to).toBeUndefined();
    expect(first.changes).toStrictEqual({
      owner: undefined,
      cost_usd: 0.75,
      status: 'failed',
      resume_at: iso(NOW + 60_000),
    });
    expect(first.transition).toMatchObject({
      outcome: 'failed',
      summary: 'build failed (attempt 1 of 3), retry in 1m',
      extra: { 'Tend-Reason': 'the agent exited 1', 'Tend-Attempt': '1' },
    });

    const second = after('build', { ok: false, failure: 'x' }, { attempts: 2 });
    expect(second.changes.resume_at).toBe(iso(NOW + 120_000));
    const slow = config([CODING], { retries: 5, retry_backoff: 30_000 });
    expect(after('build', { ok: false }, { attempts: 4 }, phaseOf('build'), slow).changes.resume_at).toBe(
      iso(NOW + 30_000 * 8),
    );
  });

  it('takes retries from the phase before the settings', () => {
    expect(maxAttempts(phase('build', { retries: 0 }), CONFIG)).toBe(1);
    expect(maxAttempts(phase('build'), config([CODING], { retries: 4 }))).toBe(5);
    const single = after('build', { ok: false }, { attempts: 1 }, phase('build', { retries: 0 }));
    expect(single.to).toBe(BLOCKED);
    expect(single.changes.blocked_reason).toMatch(/^build failed once; /);
  });

  it('blocks after the last attempt, with the reason, the log and its tail', () => {
    const tail = Array.from({ length: 20 }, (_, i) => `line ${i + 1}`).join('\n');
    const d = after(
      'build',
      {
        ok: false,
        failure: 'the gate `npm test` failed (exit 1)',
        logFile: '.tend/logs/fix-login/build.3.log',
        tail: `${tail}\n`,
      },
      { attempts: 3 },
    );
    expect(d.to).toBe(BLOCKED);
    expect(d.changes).toMatchObject({
      status: 'failed',
      owner: undefined,
      cost_usd: 0.75,
      blocked_phase: 'build',
      resume_at: undefined,
    });
    const reason = String(d.changes.blocked_reason);
    expect(reason).toMatch(/^build failed 3 times; last: the gate `npm test` failed \(exit 1\)/);
    expect(reason).toContain('last log .tend/logs/fix-login/build.3.log:');
    expect(reason).toContain('line 13\nline 14');
    expect(reason).toMatch(/line 20$/);
    expect(reason).not.toContain('line 12\n');
    expect(d.transition).toMatchObject({
      outcome: 'blocked',
      summary: 'build -> blocked (failed 3 times)',
      extra: { 'Tend-Reason': 'the gate `npm test` failed (exit 1)' },
    });
  });

  it('names a failure without a reason', () => {
    expect(String(after('build', { ok: false }, { attempts: 3 }).changes.blocked_reason)).toContain(
      'the attempt failed',
    );
  });
});

describe('decideAfterPhase: usage limits and interruptions', () => {
  it('parks the item until the limit resets and gives the attempt back', () => {
    const resetsAt = new Date(NOW + 5 * 3_600_000);
    const d = after(
      'build',
      { ok: false, usageLimit: { resetsAt, message: "You've hit your limit · resets 5pm" } },
      { attempts: 2 },
    );
    expect(d.to).toBeUndefined();
    expect(d.changes).toStrictEqual({
      owner: undefined,
      cost_usd: 0.75,
      status: 'queued',
      attempts: 1,
      resume_at: iso(resetsAt.getTime()),
      limit_waits: 1,
    });
    expect(d.transition).toMatchObject({
      outcome: 'parked',
      extra: { 'Tend-Reason': "You've hit your limit · resets 5pm" },
    });
    expect(d.transition.summary).toContain(`parked until ${iso(resetsAt.getTime())}`);
  });

  it('counts waits in a row and blocks instead of parking a 25th time', () => {
    const parked = item('x', { location: 'build', attempts: 1 });
    parked.parsed.data.limit_waits = MAX_LIMIT_WAITS - 1;
    const again = decideAfterPhase(
      parked,
      QUICK,
      phaseOf('build'),
      outcome({ ok: false, usageLimit: { message: 'rate limit exceeded' } }),
      CONFIG,
      NOW,
    );
    expect(again.changes).toMatchObject({ status: 'queued', limit_waits: MAX_LIMIT_WAITS });
    parked.parsed.data.limit_waits = MAX_LIMIT_WAITS;
    const blocked = decideAfterPhase(
      parked,
      QUICK,
      phaseOf('build'),
      outcome({ ok: false, usageLimit: { message: 'rate limit exceeded' } }),
      CONFIG,
      NOW,
    );
    expect(blocked.to).toBe(BLOCKED);
    expect(blocked.changes.blocked_reason).toBe(
      `build hit a usage limit ${MAX_LIMIT_WAITS} times in a row; last: rate limit exceeded`,
    );
    // A phase that succeeds starts the count again.
    expect(decideAfterPhase(parked, QUICK, phaseOf('build'), outcome({ ok: true }), CONFIG, NOW).changes).toMatchObject(
      { limit_waits: undefined },
    );
  });

  it('parks for an hour when the provider does not say when the limit resets', () => {
    expect(DEFAULT_USAGE_LIMIT_WAIT_MS).toBe(3_600_000);
    const d = after('build', { ok: false, usageLimit: { message: 'rate limit exceeded' } });
    expect(d.changes).toMatchObject({ status: 'queued', attempts: 0, resume_at: iso(NOW + 3_600_000) });
  });

  it('never parks into the past', () => {
    const d = after('build', { ok: false, usageLimit: { resetsAt: new Date(NOW - 60_000), message: 'limit' } });
    expect(d.changes.resume_at).toBe(iso(NOW));
    expect(d.transition.summary).toBe(`build parked until ${iso(NOW)} (usage limit)`);
  });

  it('wins over a failure reported by the same attempt, even on the last attempt', () => {
    const d = after('build', { ok: false, failure: 'exit 1', usageLimit: { message: '429' } }, { attempts: 3 });
    expect(d.to).toBeUndefined();
    expect(d.changes).toMatchObject({ status: 'queued', attempts: 2 });
  });

  it('requeues an interrupted attempt without counting it', () => {
    const d = after('build', { ok: false, interrupted: true }, { attempts: 2 });
    expect(d.to).toBeUndefined();
    expect(d.changes).toStrictEqual({ owner: undefined, cost_usd: 0.75, status: 'queued', attempts: 1 });
    expect(d.transition).toMatchObject({ outcome: 'interrupted', summary: 'build interrupted, requeued' });
  });
});

describe('decideAfterPhase: review verdicts', () => {
  it('sends a rejected review back to on_reject, one loop more, with feedback', () => {
    const d = after('review', { verdict: 'reject' }, { loops: 0 });
    expect(d.to).toBe('build');
    expect(d.changes).toMatchObject({ status: 'queued', attempts: 0, loops: 1, owner: undefined, cost_usd: 0.75 });
    expect(d.changes.feedback).toMatch(/review phase rejected the work \(round 1\): read review\.md/);
    expect(d.transition).toMatchObject({ outcome: 'rejected', summary: 'review -> build (rejected, round 1)' });
    expect(after('review', { verdict: 'reject' }, { loops: 1 }).changes.loops).toBe(2);
  });

  it('blocks a review rejected again at max_loops, to resume at on_reject', () => {
    const d = after('review', { verdict: 'reject' }, { loops: 2 });
    expect(d.to).toBe(BLOCKED);
    expect(d.changes).toMatchObject({ status: 'failed', owner: undefined, blocked_phase: 'build' });
    // The review is read where the item goes, not in the folder it leaves.
    expect(d.changes.blocked_reason).toBe(
      'review rejected the work 3 times (max_loops: 2); read backlog/blocked/fix-login/review.md',
    );
    expect(d.transition.outcome).toBe('blocked');
    const once = phase('review', { on_reject: 'build', max_loops: 0 });
    expect(after('review', { verdict: 'reject' }, { loops: 0 }, once).to).toBe(BLOCKED);
  });

  it('ignores a reject verdict in a phase without on_reject', () => {
    expect(after('design', { verdict: 'reject' }).to).toBe('spec');
  });
});

describe('decideAfterPhase: approval', () => {
  const prd = phase('prd', { artifact: 'PRD.md', approve: true });

  it('makes an approve phase wait for a human, in its folder', () => {
    const d = after('prd', {}, {}, prd);
    expect(d.to).toBeUndefined();
    expect(d.changes).toStrictEqual({ owner: undefined, cost_usd: 0.75, status: 'waiting' });
    expect(d.transition).toMatchObject({ outcome: 'waiting', summary: 'prd waiting for approval' });
  });

  it('waits even when `approved` was set before the phase ended: approval counts only while the item waits', () => {
    const d = after('prd', {}, { approved: true }, prd);
    expect(d.to).toBeUndefined();
    expect(d.transition).toMatchObject({ outcome: 'waiting', summary: 'prd waiting for approval' });
  });
});

describe('decideAfterPhase: triage', () => {
  const triage = (choice: PhaseOutcome['triage']) => after('triage', { triage: choice });

  it('sets the pipeline, priority and labels, and moves on in the chosen pipeline', () => {
    const d = triage({ pipeline: 'quick-fix', priority: 1, labels: ['bug', 'ui'] });
    expect(d.to).toBe('build');
    expect(d.changes).toMatchObject({
      pipeline: 'quick-fix',
      priority: 1,
      labels: ['bug', 'ui'],
      status: 'queued',
      attempts: 0,
    });
    expect(d.transition.summary).toBe('triage -> build');
  });

  it('falls back to the default pipeline with a warning in the item when the choice does not exist', () => {
    const d = triage({ pipeline: 'quikc-fix' });
    expect(d.to).toBe('research');
    expect(d.changes.pipeline).toBe('coding');
    expect(d.changes.warning).toMatch(/"quikc-fix", which does not exist; using coding/);
  });

  it('ignores a priority or labels of the wrong shape', () => {
    const d = triage({ priority: 7, labels: ['ok', 3] });
    expect(d.to).toBe('research');
    expect(d.changes).not.toHaveProperty('priority');
    expect(d.changes).not.toHaveProperty('labels');
    expect(d.changes).not.toHaveProperty('pipeline');
    expect(triage({ priority: '2' }).changes).not.toHaveProperty('priority');
  });

  it('an approve triage waits in the pipeline it is in; the chosen pipeline applies on approval', () => {
    const d = decideAfterPhase(
      claimed('triage'),
      CODING,
      phase('triage', { approve: true }),
      outcome({ triage: { pipeline: 'quick-fix', priority: 2 } }),
      CONFIG,
      NOW,
    );
    expect(d.to).toBeUndefined();
    expect(d.changes).toMatchObject({ status: 'waiting', priority: 2 });
    expect(d.changes).not.toHaveProperty('pipeline');
  });
});

describe('decideApproval', () => {
  it('moves a waiting item on from its phase and clears approved', () => {
    const waiting = item('fix-login', { location: 'prd', status: 'waiting', approved: true, attempts: 1 });
    const d = decideApproval(waiting, CODING, phase('prd', { approve: true }), CONFIG);
    expect(d.to).toBe('tech-research');
    expect(d.changes).toStrictEqual({
      status: 'queued',
      attempts: 0,
      owner: undefined,
      approved: undefined,
      feedback: undefined,
      resume_at: undefined,
      limit_waits: undefined,
    });
    expect(d.transition).toMatchObject({
      id: 'fix-login',
      phase: 'prd',
      outcome: 'approved',
      summary: 'prd -> tech-research (approved)',
    });
  });

  it('moves an approved last phase to done/', () => {
    expect(
      decideApproval(
        item('a', { location: 'review', status: 'waiting' }),
        QUICK,
        phase('review', { approve: true }),
        CONFIG,
      ).to,
    ).toBe(DONE);
  });

  it("an approved triage moves into the pipeline its artifact chose, at that pipeline's next phase", () => {
    const waiting = item('a', { location: 'triage', status: 'waiting', approved: true });
    const d = decideApproval(waiting, CODING, phase('triage', { approve: true }), CONFIG, {
      pipeline: 'quick-fix',
      labels: ['ui'],
    });
    expect(d.to).toBe('build');
    expect(d.changes).toMatchObject({ pipeline: 'quick-fix', status: 'queued' });
    // Labels and priority were set when it started waiting; a human may have changed them since.
    expect(d.changes).not.toHaveProperty('labels');
    expect(d.transition.summary).toBe('triage -> build (approved)');
  });

  it('an approved triage whose artifact now names a known pipeline loses the warning about an unknown one', () => {
    const waiting = item('a', { location: 'triage', status: 'waiting', approved: true });
    const fixed = decideApproval(waiting, CODING, phase('triage', { approve: true }), CONFIG, {
      pipeline: 'quick-fix',
    });
    expect(fixed.changes).toHaveProperty('warning', undefined);
    const still = decideApproval(waiting, CODING, phase('triage', { approve: true }), CONFIG, { pipeline: 'nope' });
    expect(still.changes).toMatchObject({
      pipeline: 'coding',
      warning: expect.stringMatching(/triage chose pipeline "nope"/),
    });
    // No pipeline named: it stays in the one it is in.
    const none = decideApproval(waiting, CODING, phase('triage', { approve: true }), CONFIG, {});
    expect(none.to).toBe('research');
    expect(none.changes).not.toHaveProperty('pipeline');
  });
});

describe('decideRejection', () => {
  const waiting = (location: string) => item('fix-login', { location, status: 'waiting', attempts: 1 });

  it('sends the item back to on_reject with the reason as feedback', () => {
    const d = decideRejection(waiting('review'), phaseOf('review'), 'the login form still breaks', false);
    expect(d.to).toBe('build');
    expect(d.changes).toStrictEqual({
      status: 'queued',
      attempts: 0,
      owner: undefined,
      approved: undefined,
      feedback: 'the login form still breaks',
    });
    expect(d.transition).toMatchObject({
      outcome: 'rejected',
      summary: 'review -> build (rejected)',
      extra: { 'Tend-Reason': 'the login form still breaks' },
    });
  });

  it('reruns the same phase, in its folder, when it has no on_reject', () => {
    const d = decideRejection(waiting('prd'), phase('prd', { approve: true }), 'too vague', false);
    expect(d.to).toBeUndefined();
    expect(d.changes).toMatchObject({ status: 'queued', attempts: 0, feedback: 'too vague' });
    expect(d.transition.summary).toBe('prd -> prd (rejected)');
  });

  it('blocks the item with --block', () => {
    const d = decideRejection(waiting('prd'), phase('prd', { approve: true }), 'not worth it', true);
    expect(d.to).toBe(BLOCKED);
    expect(d.changes).toStrictEqual({
      status: 'failed',
      owner: undefined,
      approved: undefined,
      blocked_reason: 'rejected by a human: not worth it',
      blocked_phase: 'prd',
    });
    expect(d.transition).toMatchObject({ outcome: 'blocked', extra: { 'Tend-Reason': 'not worth it' } });
  });
});

describe('decideRecovery', () => {
  it('requeues an item a dead run held while it has attempts left; the interrupted one counts', () => {
    const d = decideRecovery(claimed('build', { attempts: 2 }), phaseOf('build'), CONFIG);
    expect(d.to).toBeUndefined();
    expect(d.changes).toStrictEqual({ status: 'queued', owner: undefined });
    expect(d.transition.summary).toBe('build requeued (the run holding it ended)');
  });

  it('blocks it once the interrupted attempt was its last, so a crash loop does not run all night', () => {
    const d = decideRecovery(claimed('build', { attempts: 3 }), phaseOf('build'), CONFIG);
    expect(d.to).toBe(BLOCKED);
    expect(d.changes).toMatchObject({ status: 'failed', owner: undefined, blocked_phase: 'build' });
    expect(String(d.changes.blocked_reason)).toMatch(
      /^build: attempt 3 of 3 was cut short: the run holding it ended .*`tend retry fix-login`/,
    );
    expect(d.transition).toMatchObject({ summary: 'build -> blocked (last attempt interrupted)', outcome: 'blocked' });
  });
});

describe('decideAfterPhase: the agent a usage limit parks', () => {
  it('names the agent in limited_by when parked, and never when blocked for repeated limits', () => {
    const limit = { usageLimit: { message: 'quota', resetsAt: new Date(NOW + 60_000) } };
    const parked = decideAfterPhase(claimed('prd'), CODING, phaseOf('prd'), outcome(limit), CONFIG, NOW, 'claude');
    expect(parked.changes.limited_by).toBe('claude');
    expect(Object.keys(parked.changes).at(-1)).toBe('limited_by');
    const spec = { location: 'prd' };
    const tired = item('fix-login', { ...spec, status: 'running', attempts: 1 });
    tired.parsed.data.limit_waits = MAX_LIMIT_WAITS;
    const blocked = decideAfterPhase(tired, CODING, phaseOf('prd'), outcome(limit), CONFIG, NOW, 'claude');
    expect(blocked.to).toBe(BLOCKED);
    expect('limited_by' in blocked.changes).toBe(false);
  });
});

describe('decisions the run makes without an agent', () => {
  it('intake: the first phase, with the fields tend keeps and the created time of the file', () => {
    const inbox = item('fix-login', { location: 'inbox', priority: 2, createdMs: NOW });
    delete inbox.parsed.data.created;
    const d = decideIntake(inbox, 'triage');
    expect(d.to).toBe('triage');
    expect(d.changes).toStrictEqual({
      title: 'Item fix-login',
      priority: 2,
      status: 'queued',
      attempts: 0,
      created: iso(NOW),
      cost_usd: 0,
    });
    expect(commitMessage(d.transition)).toBe(
      'tend: fix-login inbox -> triage\n\nTend-Item: fix-login\nTend-Phase: inbox\nTend-Outcome: intake\n',
    );
  });

  it('intake keeps a created date the file gives', () => {
    const inbox = item('fix-login', { location: 'inbox', created: '2026-01-02T03:04:05Z' });
    expect(decideIntake(inbox, 'triage').changes.created).toBe('2026-01-02T03:04:05Z');
  });

  it('claim: running, owned, one attempt more; the branch only when given', () => {
    const d = decideClaim(item('fix-login', { attempts: 1 }), phaseOf('build'), 'host:1', 'tend/fix-login');
    expect(d.to).toBeUndefined();
    expect(d.changes).toStrictEqual({
      status: 'running',
      owner: 'host:1',
      attempts: 2,
      resume_at: undefined,
      limited_by: undefined,
      branch: 'tend/fix-login',
    });
    expect(d.transition).toMatchObject({ summary: 'build started (attempt 2)', outcome: 'claimed', phase: 'build' });
    expect('branch' in decideClaim(item('fix-login'), phaseOf('build'), 'host:1', undefined).changes).toBe(false);
  });

  it('requeue after an error gives the attempt back and says why', () => {
    const d = decideRequeueAfterError(claimed('build', { attempts: 2 }), phaseOf('build'), 'disk full');
    expect(d.changes).toStrictEqual({ status: 'queued', owner: undefined, attempts: 1 });
    expect(d.transition).toMatchObject({ summary: 'build requeued (disk full)', outcome: 'requeued' });
  });

  it('a stray claim is requeued where it is', () => {
    const d = decideStrayRequeue(claimed('design'));
    expect(d.to).toBeUndefined();
    expect(d.changes).toStrictEqual({ status: 'queued', owner: undefined });
    expect(commitMessage(d.transition)).toBe(
      'tend: fix-login design requeued\n\nTend-Item: fix-login\nTend-Phase: design\nTend-Outcome: requeued\n',
    );
  });

  it('block: to blocked/ with the reason in the item and the trailer', () => {
    const d = decideBlock(item('fix-login', { location: 'spec' }), 'depends on gone-item, which does not exist');
    expect(d.to).toBe(BLOCKED);
    expect(d.changes).toStrictEqual({
      status: 'failed',
      blocked_reason: 'depends on gone-item, which does not exist',
      blocked_phase: 'spec',
    });
    expect(commitMessage(d.transition)).toContain('tend: fix-login spec -> blocked\n');
    expect(commitMessage(d.transition)).toContain('Tend-Reason: depends on gone-item, which does not exist\n');
  });

  it('a failed merge turns a move to done/ into a block, keeping the trailers of the phase', () => {
    const done = after('review');
    const d = decideMergeFailed(claimed('review'), done, 'merging conflicts');
    expect(d.to).toBe(BLOCKED);
    expect(d.changes).toMatchObject({ status: 'failed', blocked_reason: 'merging conflicts', blocked_phase: 'review' });
    expect(d.transition).toMatchObject({ summary: 'review -> blocked (merge failed)', outcome: 'blocked' });
    expect(d.transition.extra).toMatchObject({ 'Tend-Attempt': '1', 'Tend-Reason': 'merging conflicts' });
  });
});

describe('decideRetry', () => {
  it('puts a blocked item back in the phase it was blocked in, loops reset', () => {
    const blocked = item('fix-login', { location: BLOCKED, status: 'failed', loops: 2 });
    blocked.parsed.data.blocked_phase = 'review';
    const d = decideRetry(blocked, CODING);
    expect(d.to).toBe('review');
    expect(d.changes).toStrictEqual({
      status: 'queued',
      attempts: 0,
      owner: undefined,
      resume_at: undefined,
      blocked_reason: undefined,
      blocked_phase: undefined,
      loops: 0,
    });
    expect(d.transition).toMatchObject({ summary: 'blocked -> review (retry)', outcome: 'retry' });
  });

  it('retries a failed item now, where it is', () => {
    const d = decideRetry(item('fix-login', { location: 'build', status: 'failed' }), CODING);
    expect(d.to).toBeUndefined();
    expect(d.transition.summary).toBe('build retry now');
  });

  it('refuses what has nothing to retry', () => {
    expect(() => decideRetry(item('a', { location: DONE }), CODING)).toThrow(/only blocked, failed or parked/);
    expect(() => decideRetry(item('a', { status: 'running' }), CODING)).toThrow('a is running; nothing to retry');
    expect(() => decideRetry(item('a', { location: BLOCKED }), undefined)).toThrow('a has no pipeline to go back to');
  });
});

describe('decideHandChange', () => {
  const base = { id: 'fix-login', from: ['build'], paths: ['backlog/build/fix-login'] };

  it('a moved item is requeued in its new folder, the old one committed as gone', () => {
    const moved = item('fix-login', { location: 'review', status: 'failed', attempts: 2 });
    const d = decideHandChange({ ...base, kind: 'moved', item: moved, summary: 'moved by hand: build -> review' });
    if (!('decision' in d)) throw new Error('expected a decision');
    expect(d.decision.changes).toStrictEqual({ status: 'queued', attempts: 0, owner: undefined, resume_at: undefined });
    expect(d.decision.leftBehind).toStrictEqual(['backlog/build/fix-login']);
    expect(d.decision.transition).toMatchObject({ phase: 'review', outcome: 'moved' });
  });

  it('an edit or a removal is committed as it is, a removal while its agent ran saying so', () => {
    const edited = decideHandChange({ ...base, kind: 'edited', item: item('fix-login'), summary: 'edited by hand' });
    expect(edited).toStrictEqual({
      transition: { id: 'fix-login', phase: 'build', summary: 'edited by hand', outcome: 'edited' },
    });
    const removed = decideHandChange({ ...base, kind: 'removed', summary: 'removed by hand from build' }, 'build');
    expect(removed).toStrictEqual({
      transition: {
        id: 'fix-login',
        phase: 'build',
        summary: 'removed while its build agent ran (by a person or by that agent)',
        outcome: 'removed',
      },
    });
  });
});

describe('artifacts that go stale', () => {
  const inSpec = (spec: ItemSpec = {}) => ({
    ...item('signup', { location: 'spec', ...spec }),
    artifacts: ['PRD.md', 'design.md', 'research.md', 'spec.md', 'tech-research.md', 'notes.md'],
  });
  const edit = (files: string[], at = inSpec()) => ({
    id: 'signup',
    kind: 'edited' as const,
    item: at,
    from: [],
    summary: 'edited by hand',
    paths: ['backlog/spec/signup'],
    files,
  });

  it('an earlier artifact edited by hand marks the later ones stale, in pipeline order, outcome stale', () => {
    const d = decideHandChange(edit(['PRD.md']), undefined, CODING);
    if (!('decision' in d)) throw new Error('expected a decision');
    expect(d.decision.to).toBeUndefined();
    expect(d.decision.changes).toStrictEqual({
      stale: ['tech-research.md', 'design.md', 'spec.md'],
      stale_source: 'PRD.md',
    });
    expect(d.decision.transition).toMatchObject({
      outcome: 'stale',
      summary: 'edited by hand; PRD.md changed, stale: tech-research.md, design.md, spec.md',
    });
  });

  it('files edited together are not marked; an edit of the last artifact, item.md or a file of no phase marks nothing', () => {
    const both = decideHandChange(edit(['PRD.md', 'design.md']), undefined, CODING);
    if (!('decision' in both)) throw new Error('expected a decision');
    expect(both.decision.changes.stale).toStrictEqual(['tech-research.md', 'spec.md']);
    for (const files of [['spec.md'], ['item.md'], ['notes.md'], []])
      expect(decideHandChange(edit(files), undefined, CODING)).toStrictEqual({
        transition: { id: 'signup', phase: 'spec', summary: 'edited by hand', outcome: 'edited' },
      });
    // Without a pipeline (none known for the item) an edit is an edit.
    expect('transition' in decideHandChange(edit(['PRD.md']))).toBe(true);
  });

  it('a second edit adds to the marks and keeps the earliest source', () => {
    const marked = inSpec({ stale: ['spec.md'], stale_source: 'design.md' });
    const d = decideHandChange(edit(['research.md'], marked), undefined, CODING);
    if (!('decision' in d)) throw new Error('expected a decision');
    expect(d.decision.changes).toStrictEqual({
      stale: ['PRD.md', 'tech-research.md', 'design.md', 'spec.md'],
      stale_source: 'research.md',
    });
    const later = decideHandChange(
      edit(['design.md'], inSpec({ stale: ['design.md', 'spec.md'], stale_source: 'PRD.md' })),
      undefined,
      CODING,
    );
    if (!('decision' in later)) throw new Error('expected a decision');
    expect(later.decision.changes).toStrictEqual({ stale: ['spec.md'], stale_source: 'PRD.md' });
  });

  it("a phase done clears its own artifact's mark; the last mark gone takes stale_source with it", () => {
    const design = CODING.phases.find((p) => p.name === 'design')!;
    const ok: PhaseOutcome = { ok: true, costUsd: 0, durationMs: 1, agent: 'dry-run' };
    const marked = item('signup', { location: 'design', stale: ['design.md', 'spec.md'], stale_source: 'PRD.md' });
    expect(decideAfterPhase(marked, CODING, design, ok, CONFIG, NOW).changes).toMatchObject({ stale: ['spec.md'] });
    const last = item('signup', { location: 'design', stale: ['design.md'], stale_source: 'PRD.md' });
    const changes = decideAfterPhase(last, CODING, design, ok, CONFIG, NOW).changes;
    expect(Object.entries(changes).filter(([k]) => k.startsWith('stale'))).toStrictEqual([
      ['stale', undefined],
      ['stale_source', undefined],
    ]);
    // An item with no marks: the keys are left alone.
    expect(
      'stale' in decideAfterPhase(item('x', { location: 'design' }), CODING, design, ok, CONFIG, NOW).changes,
    ).toBe(false);
  });
});

describe('decideRedo', () => {
  const design = CODING.phases.find((p) => p.name === 'design')!;
  const build = CODING.phases.find((p) => p.name === 'build')!;

  it('back to the phase, queued from scratch, the edit as feedback; marks before it cleared', () => {
    const waiting = item('signup', {
      location: 'spec',
      status: 'waiting',
      attempts: 1,
      loops: 1,
      stale: ['tech-research.md', 'design.md', 'spec.md'],
      stale_source: 'PRD.md',
    });
    const d = decideRedo(waiting, CODING, design, 'Mind passkeys.');
    expect(d.to).toBe('design');
    expect(d.changes).toMatchObject({
      status: 'queued',
      attempts: 0,
      loops: 0,
      approved: undefined,
      stale: ['design.md', 'spec.md'],
      stale_source: 'PRD.md',
    });
    expect(d.changes.feedback).toMatch(/^PRD\.md was edited by hand .* Mind passkeys\.$/);
    expect(d.transition).toMatchObject({
      outcome: 'redo',
      phase: 'design',
      summary: 'spec -> design (redo, PRD.md edited)',
    });
  });

  it('from done/ or blocked/ too; without marks the feedback says a person asked', () => {
    const done = decideRedo(item('x', { location: DONE }), CODING, design);
    expect(done.to).toBe('design');
    expect(done.changes).toMatchObject({
      feedback: 'A person asked for this phase to be done again.',
      stale: undefined,
    });
    expect(decideRedo(item('x', { location: BLOCKED, blocked_reason: 'no' }), CODING, build).changes).toMatchObject({
      blocked_reason: undefined,
      blocked_phase: undefined,
    });
    // The phase the item is in: run again where it is.
    expect(decideRedo(item('x', { location: 'design', status: 'waiting' }), CODING, design).to).toBeUndefined();
  });

  it('refuses a phase ahead of the item, a running item and one in the inbox', () => {
    expect(() => decideRedo(item('x', { location: 'design' }), CODING, build)).toThrow(
      /x is in design, which comes before build/,
    );
    expect(() => decideRedo(item('x', { location: 'spec', status: 'running' }), CODING, design)).toThrow(
      /x is running/,
    );
    expect(() => decideRedo(item('x', { location: 'inbox' }), CODING, design)).toThrow(/still in the inbox/);
  });
});

describe('claimHeld: whether the committed item still runs under our claim', () => {
  const ours = 'vm:1';
  it('held while it runs under our owner', () => {
    expect(claimHeld({ status: 'running', owner: ours }, ours)).toBe(true);
  });
  it('not held once another clone took it over, claimed it, or moved it away', () => {
    expect(claimHeld({ status: 'queued' }, ours)).toBe(false);
    expect(claimHeld({ status: 'running', owner: 'other:2' }, ours)).toBe(false);
    expect(claimHeld(undefined, ours)).toBe(false);
  });
  it('an item.md committed without a readable status says nothing: held', () => {
    expect(claimHeld({}, ours)).toBe(true);
  });
});
