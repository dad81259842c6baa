// What happens to an item after a phase attempt, an approval or a rejection: a pure function
// from the item and the outcome to a Decision (where the item goes, which keys change, and the
// commit that records it). The runner only carries decisions out.
import { BACKLOG_DIR, BLOCKED, DONE, type Item } from './backlog.js';
import type { Config } from './config.js';
import type { Phase, Pipeline } from './pipeline.js';
import { formatDuration } from './duration.js';
import type { ItemChanges } from './item.js';
import type { Outcome, Transition } from './transition.js';
import { nextPhase } from './scheduler.js';

export interface Decision {
  /** The folder the item moves to; undefined to stay where it is. */
  to?: string;
  /** Frontmatter keys to set (`undefined` removes a key). */
  changes: ItemChanges;
  transition: Transition;
  /** Folders of the item a person moved it out of, committed as gone with this transition. */
  leftBehind?: string[];
}

export interface PhaseOutcome {
  ok: boolean;
  /** Why the attempt failed, in a sentence. */
  failure?: string;
  usageLimit?: { resetsAt?: Date; message: string };
  interrupted?: boolean;
  verdict?: 'approve' | 'reject';
  /** A triage artifact's choices as written; `unreadable` says why its frontmatter could not be read. */
  triage?: { pipeline?: unknown; priority?: unknown; labels?: unknown; unreadable?: string };
  costUsd: number;
  /** An agent ran but reported no cost (codex, most commands): costUsd counts it as 0. */
  costUnknown?: boolean;
  durationMs: number;
  agent: string;
  tokens?: { input: number; output: number };
  logFile?: string;
  tail?: string;
}

/** Usage-limit waits in a row before an item is blocked instead of parked again. */
export const MAX_LIMIT_WAITS = 24;

/** How long an item waits when a provider says it is out of quota but not until when. */
export const DEFAULT_USAGE_LIMIT_WAIT_MS = 60 * 60_000;

export function maxAttempts(phase: Phase, config: Config): number {
  return (phase.retries ?? config.settings.retries) + 1;
}

function iso(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

function times(n: number): string {
  return n === 1 ? 'once' : `${n} times`;
}

function lastLines(text: string | undefined, n: number): string {
  return (text ?? '').trim().split('\n').slice(-n).join('\n');
}

/** Moving on from `phase` (done, or approved): to the next phase of the pipeline, or done/. */
function advance(
  item: Item,
  pipeline: Pipeline,
  phase: Phase,
  extra: ItemChanges,
  base: Omit<Transition, 'summary' | 'outcome'>,
  outcome: Outcome,
  note = '',
): Decision {
  const to = nextPhase(pipeline, phase.name)?.name ?? DONE;
  return {
    to,
    changes: {
      status: 'queued',
      attempts: 0,
      owner: undefined,
      approved: undefined,
      feedback: undefined,
      resume_at: undefined,
      limit_waits: undefined,
      ...extra,
    },
    transition: { ...base, summary: `${phase.name} -> ${to}${note}`, outcome },
  };
}

export function decideAfterPhase(
  item: Item,
  pipeline: Pipeline,
  phase: Phase,
  outcome: PhaseOutcome,
  config: Config,
  now: number,
): Decision {
  const f = item.fields;
  const cost = Math.round((f.cost_usd + outcome.costUsd) * 1e6) / 1e6;
  const base: Omit<Transition, 'summary' | 'outcome'> = {
    id: item.id,
    phase: phase.name,
    agent: outcome.agent,
    durationMs: outcome.durationMs,
    costUsd: outcome.costUsd,
    costUnknown: outcome.costUnknown,
    extra: {
      'Tend-Attempt': String(f.attempts),
      ...(outcome.tokens ? { 'Tend-Tokens': `${outcome.tokens.input} in, ${outcome.tokens.output} out` } : {}),
    },
  };
  const released = { owner: undefined, cost_usd: cost };

  if (outcome.interrupted) {
    return {
      changes: { ...released, status: 'queued', attempts: Math.max(0, f.attempts - 1) },
      transition: { ...base, summary: `${phase.name} interrupted, requeued`, outcome: 'interrupted' },
    };
  }
  if (outcome.usageLimit) {
    // A "limit" that never lifts is more likely the agent's own output read as one: stop after
    // a day's worth of waits rather than retry, paid, every hour forever.
    const waits = (typeof item.parsed.data.limit_waits === 'number' ? item.parsed.data.limit_waits : 0) + 1;
    if (waits > MAX_LIMIT_WAITS) {
      return {
        to: BLOCKED,
        changes: {
          ...released,
          status: 'failed',
          limit_waits: undefined,
          resume_at: undefined,
          blocked_phase: phase.name,
          blocked_reason: `${phase.name} hit a usage limit ${MAX_LIMIT_WAITS} times in a row; last: ${outcome.usageLimit.message}`,
        },
        transition: {
          ...base,
          summary: `${phase.name} -> blocked (usage limit ${MAX_LIMIT_WAITS} times)`,
          outcome: 'blocked',
          extra: { ...base.extra, 'Tend-Reason': outcome.usageLimit.message },
        },
      };
    }
    const resume = Math.max(outcome.usageLimit.resetsAt?.getTime() ?? now + DEFAULT_USAGE_LIMIT_WAIT_MS, now);
    return {
      changes: {
        ...released,
        status: 'queued',
        attempts: Math.max(0, f.attempts - 1),
        resume_at: iso(resume),
        limit_waits: waits,
      },
      transition: {
        ...base,
        summary: `${phase.name} parked until ${iso(resume)} (usage limit)`,
        outcome: 'parked',
        extra: { ...base.extra, 'Tend-Reason': outcome.usageLimit.message },
      },
    };
  }
  const max = maxAttempts(phase, config);
  if (!outcome.ok) {
    const reason = outcome.failure ?? 'the attempt failed';
    if (f.attempts >= max) {
      const log = outcome.logFile ? `\nlast log ${outcome.logFile}:\n${lastLines(outcome.tail, 8)}` : '';
      return {
        to: BLOCKED,
        changes: {
          ...released,
          status: 'failed',
          blocked_reason: `${phase.name} failed ${times(f.attempts)}; last: ${reason}${log}`,
          blocked_phase: phase.name,
          resume_at: undefined,
        },
        transition: {
          ...base,
          summary: `${phase.name} -> blocked (failed ${times(f.attempts)})`,
          outcome: 'blocked',
          extra: { ...base.extra, 'Tend-Reason': reason },
        },
      };
    }
    const backoff = config.settings.retry_backoff * 2 ** Math.max(0, f.attempts - 1);
    return {
      changes: { ...released, status: 'failed', resume_at: iso(now + backoff) },
      transition: {
        ...base,
        summary: `${phase.name} failed (attempt ${f.attempts} of ${max}), retry in ${formatDuration(backoff)}`,
        outcome: 'failed',
        extra: { ...base.extra, 'Tend-Reason': reason },
      },
    };
  }

  const { target, changes: triage } = triageChoice(outcome.triage, pipeline, config);

  if (outcome.verdict === 'reject' && phase.on_reject) {
    if (f.loops >= phase.max_loops) {
      return {
        to: BLOCKED,
        changes: {
          ...released,
          status: 'failed',
          blocked_reason: `${phase.name} rejected the work ${times(f.loops + 1)} (max_loops: ${phase.max_loops}); read ${BACKLOG_DIR}/${BLOCKED}/${item.id}/${phase.artifact}`,
          blocked_phase: phase.on_reject,
        },
        transition: {
          ...base,
          summary: `${phase.name} -> blocked (rejected ${times(f.loops + 1)})`,
          outcome: 'blocked',
        },
      };
    }
    return {
      to: phase.on_reject,
      changes: {
        ...released,
        status: 'queued',
        attempts: 0,
        loops: f.loops + 1,
        feedback: `The ${phase.name} phase rejected the work (round ${f.loops + 1}): read ${phase.artifact} in the item folder and address every blocker and major finding.`,
      },
      transition: {
        ...base,
        summary: `${phase.name} -> ${phase.on_reject} (rejected, round ${f.loops + 1})`,
        outcome: 'rejected',
      },
    };
  }
  // Approval counts only when given while the item waits for it: an `approved` present when the
  // phase finishes (written by its agent, or early) is cleared by the job, never passed.
  if (phase.approve) {
    // The pipeline is switched on approval, not now: the item waits in this phase's folder,
    // which the chosen pipeline may not have. Approval reads the choice again from the artifact,
    // so a human may change it before approving.
    const { pipeline: _chosen, ...rest } = triage;
    return {
      changes: { ...released, ...rest, status: 'waiting' },
      transition: { ...base, summary: `${phase.name} waiting for approval`, outcome: 'waiting' },
    };
  }
  return advance(item, target, phase, { ...released, ...triage }, base, 'done');
}

/**
 * An item a run that is gone left `running`: the interrupted attempt counts, so an item whose
 * agent keeps bringing tend down (memory, a hung machine) is blocked once its attempts are used
 * up instead of being started again after every restart.
 */
export function decideRecovery(item: Item, phase: Phase | undefined, config: Config): Decision {
  const base = { id: item.id, phase: item.location };
  const attempts = item.fields.attempts;
  if (phase && attempts >= maxAttempts(phase, config)) {
    const reason = `attempt ${attempts} of ${maxAttempts(phase, config)} was cut short: the run holding it ended (tend was killed or the machine stopped)`;
    return {
      to: BLOCKED,
      changes: {
        status: 'failed',
        owner: undefined,
        blocked_phase: phase.name,
        blocked_reason: `${phase.name}: ${reason}; \`tend retry ${item.id}\` to try again`,
      },
      transition: {
        ...base,
        summary: `${item.location} -> blocked (last attempt interrupted)`,
        outcome: 'blocked',
        extra: { 'Tend-Reason': reason },
      },
    };
  }
  return {
    changes: { status: 'queued', owner: undefined },
    transition: { ...base, summary: `${item.location} requeued (the run holding it ended)`, outcome: 'requeued' },
  };
}

/** A waiting item a human approved: move on from its phase (for triage, in the pipeline its artifact chose). */
export function decideApproval(
  item: Item,
  pipeline: Pipeline,
  phase: Phase,
  config: Config,
  triage?: PhaseOutcome['triage'],
): Decision {
  const choice = triageChoice(triage, pipeline, config);
  // Priority and labels were applied when the item started waiting (a human may have changed
  // them since); only the pipeline switches now, and a warning about an earlier choice goes.
  const changes: ItemChanges = triage ? { warning: choice.changes.warning } : {};
  if (choice.changes.pipeline !== undefined) changes.pipeline = choice.changes.pipeline;
  return advance(item, choice.target, phase, changes, { id: item.id, phase: phase.name }, 'approved', ' (approved)');
}

/**
 * What a triage artifact's frontmatter chose: pipeline, priority, labels. A choice that cannot be
 * used (an unknown pipeline falls back to the default) is named in the item's `warning`, never
 * dropped silently.
 */
function triageChoice(
  triage: PhaseOutcome['triage'],
  pipeline: Pipeline,
  config: Config,
): { target: Pipeline; changes: ItemChanges } {
  let target = pipeline;
  const changes: ItemChanges = {};
  if (!triage) return { target, changes };
  const warnings: string[] = [];
  const { pipeline: chosen, priority, labels, unreadable } = triage;
  if (unreadable) warnings.push(`the triage frontmatter cannot be read (${unreadable}); nothing it chose was applied`);
  if (typeof chosen === 'string' && chosen !== '') {
    const found = config.pipelines.get(chosen);
    if (found) {
      target = found;
      changes.pipeline = chosen;
    } else {
      changes.pipeline = config.settings.default_pipeline;
      const fallback = config.settings.default_pipeline;
      warnings.push(`triage chose pipeline ${JSON.stringify(chosen)}, which does not exist; using ${fallback}`);
      target = config.pipelines.get(config.settings.default_pipeline) ?? pipeline;
    }
  } else if (chosen !== undefined && chosen !== null && chosen !== '') {
    warnings.push(`triage chose pipeline ${shown(chosen)}, which is not a pipeline name; the pipeline was kept`);
  }
  if (Number.isInteger(priority) && (priority as number) >= 1 && (priority as number) <= 5) {
    changes.priority = priority as number;
  } else if (priority !== undefined && priority !== null) {
    const why = 'which is not an integer from 1 to 5; the priority was kept';
    warnings.push(`triage chose priority ${shown(priority)}, ${why}`);
  }
  const labelList = typeof labels === 'string' ? [labels] : labels;
  if (Array.isArray(labelList) && labelList.every((l) => typeof l === 'string')) {
    changes.labels = labelList;
  } else if (labels !== undefined && labels !== null) {
    warnings.push(`triage chose labels ${shown(labels)}, which is not a list of words; the labels were kept`);
  }
  if (warnings.length > 0) changes.warning = warnings.join('; ');
  return { target, changes };
}

function shown(value: unknown): string {
  const json = JSON.stringify(value) ?? String(value);
  return json.length > 60 ? `${json.slice(0, 57)}...` : json;
}

/** A human rejection of a waiting item: back to `on_reject` (or the same phase) with the reason, or blocked. */
export function decideRejection(item: Item, phase: Phase, reason: string, block: boolean): Decision {
  const base = { id: item.id, phase: phase.name, extra: { 'Tend-Reason': reason } };
  if (block) {
    return {
      to: BLOCKED,
      changes: {
        status: 'failed',
        owner: undefined,
        approved: undefined,
        blocked_reason: `rejected by a human: ${reason}`,
        blocked_phase: phase.name,
      },
      transition: { ...base, summary: `${phase.name} -> blocked (rejected)`, outcome: 'blocked' },
    };
  }
  const to = phase.on_reject ?? phase.name;
  return {
    to: to === phase.name ? undefined : to,
    changes: { status: 'queued', attempts: 0, owner: undefined, approved: undefined, feedback: reason },
    transition: { ...base, summary: `${phase.name} -> ${to} (rejected)`, outcome: 'rejected' },
  };
}
