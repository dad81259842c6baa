// Every change of an item's state, as a pure function from the item and what happened to a
// Decision (where the item goes, which keys change, and the commit that records it): intake,
// claim, the end of a phase, approval, rejection, retry, requeue, block, and changes by hand.
// The engine only carries decisions out, through its writer.
import { BACKLOG_DIR, BLOCKED, DONE, INBOX, type Item } from './backlog.js';
import type { Config } from './config.js';
import {
  inPipelineOrder,
  lensArtifact,
  phaseIndexOfArtifact,
  staleAfterEdit,
  type Phase,
  type Pipeline,
} from './pipeline.js';
import { formatDuration } from './duration.js';
import { TendError } from './problem.js';
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
      ...freshened(item, phase),
      ...extra,
    },
    transition: { ...base, summary: `${phase.name} -> ${to}${note}`, outcome },
  };
}

/** What every decision after a phase attempt shares: the commit's trailers and the item given back. */
interface AttemptContext {
  item: Item;
  phase: Phase;
  outcome: PhaseOutcome;
  base: Omit<Transition, 'summary' | 'outcome'>;
  /** The owner removed and the attempt's cost added. */
  released: ItemChanges;
}

function attemptContext(item: Item, phase: Phase, outcome: PhaseOutcome): AttemptContext {
  const f = item.fields;
  const tokens: Record<string, string> = outcome.tokens
    ? { 'Tend-Tokens': `${outcome.tokens.input} in, ${outcome.tokens.output} out` }
    : {};
  const base: Omit<Transition, 'summary' | 'outcome'> = {
    id: item.id,
    phase: phase.name,
    agent: outcome.agent,
    durationMs: outcome.durationMs,
    costUsd: outcome.costUsd,
    costUnknown: outcome.costUnknown,
    extra: { 'Tend-Attempt': String(f.attempts), ...tokens },
  };
  const cost = Math.round((f.cost_usd + outcome.costUsd) * 1e6) / 1e6;
  return { item, phase, outcome, base, released: { owner: undefined, cost_usd: cost } };
}

/**
 * `limitedBy`: the agent that ran the phase, written into an item parked for its usage limit so
 * every item using that agent waits as well.
 */
export function decideAfterPhase(
  item: Item,
  pipeline: Pipeline,
  phase: Phase,
  outcome: PhaseOutcome,
  config: Config,
  now: number,
  limitedBy?: string,
): Decision {
  const c = attemptContext(item, phase, outcome);
  if (outcome.interrupted) {
    return {
      changes: { ...c.released, status: 'queued', attempts: Math.max(0, item.fields.attempts - 1) },
      transition: { ...c.base, summary: `${phase.name} interrupted, requeued`, outcome: 'interrupted' },
    };
  }
  if (outcome.usageLimit) return usageLimited(c, outcome.usageLimit, now, limitedBy);
  if (!outcome.ok) return attemptFailed(c, config, now);
  const { target, changes: triage } = triageChoice(outcome.triage, pipeline, config);
  if (outcome.verdict === 'reject' && phase.on_reject) return rejectedByPhase(c, phase.on_reject);
  // Approval counts only when given while the item waits for it: an `approved` present when the
  // phase finishes (written by its agent, or early) is cleared by the job, never passed.
  if (phase.approve) {
    // The pipeline is switched on approval, not now: the item waits in this phase's folder,
    // which the chosen pipeline may not have. Approval reads the choice again from the artifact,
    // so a human may change it before approving.
    const { pipeline: _chosen, ...rest } = triage;
    return {
      changes: { ...c.released, ...rest, ...freshened(item, phase), status: 'waiting' },
      transition: { ...c.base, summary: `${phase.name} waiting for approval`, outcome: 'waiting' },
    };
  }
  return advance(item, target, phase, { ...c.released, ...triage }, c.base, 'done');
}

/** Out of quota: parked until the limit resets, or blocked once it has happened too often in a row. */
function usageLimited(
  c: AttemptContext,
  limit: NonNullable<PhaseOutcome['usageLimit']>,
  now: number,
  limitedBy: string | undefined,
): Decision {
  const { item, phase, base, released } = c;
  const extra = { ...base.extra, 'Tend-Reason': limit.message };
  // A "limit" that never lifts is more likely the agent's own output read as one: stop after
  // a day's worth of waits rather than retry, paid, every hour forever.
  const waits = (typeof item.parsed.data.limit_waits === 'number' ? item.parsed.data.limit_waits : 0) + 1;
  if (waits > MAX_LIMIT_WAITS) {
    const repeated = `${phase.name} hit a usage limit ${MAX_LIMIT_WAITS} times in a row`;
    return {
      to: BLOCKED,
      changes: {
        ...released,
        status: 'failed',
        limit_waits: undefined,
        resume_at: undefined,
        blocked_phase: phase.name,
        blocked_reason: `${repeated}; last: ${limit.message}`,
      },
      transition: {
        ...base,
        summary: `${phase.name} -> blocked (usage limit ${MAX_LIMIT_WAITS} times)`,
        outcome: 'blocked',
        extra,
      },
    };
  }
  const resume = iso(Math.max(limit.resetsAt?.getTime() ?? now + DEFAULT_USAGE_LIMIT_WAIT_MS, now));
  const attempts = Math.max(0, item.fields.attempts - 1);
  return {
    changes: {
      ...released,
      status: 'queued',
      attempts,
      resume_at: resume,
      limit_waits: waits,
      ...(limitedBy === undefined ? {} : { limited_by: limitedBy }),
    },
    transition: { ...base, summary: `${phase.name} parked until ${resume} (usage limit)`, outcome: 'parked', extra },
  };
}

/** A failed attempt: retried after a backoff, or blocked once the phase's attempts are used up. */
function attemptFailed(c: AttemptContext, config: Config, now: number): Decision {
  const { item, phase, outcome, base, released } = c;
  const attempts = item.fields.attempts;
  const max = maxAttempts(phase, config);
  const reason = outcome.failure ?? 'the attempt failed';
  const extra = { ...base.extra, 'Tend-Reason': reason };
  if (attempts >= max) {
    const log = outcome.logFile ? `\nlast log ${outcome.logFile}:\n${lastLines(outcome.tail, 8)}` : '';
    return {
      to: BLOCKED,
      changes: {
        ...released,
        status: 'failed',
        blocked_reason: `${phase.name} failed ${times(attempts)}; last: ${reason}${log}`,
        blocked_phase: phase.name,
        resume_at: undefined,
      },
      transition: {
        ...base,
        summary: `${phase.name} -> blocked (failed ${times(attempts)})`,
        outcome: 'blocked',
        extra,
      },
    };
  }
  const backoff = config.settings.retry_backoff * 2 ** Math.max(0, attempts - 1);
  const retry = `retry in ${formatDuration(backoff)}`;
  return {
    changes: { ...released, status: 'failed', resume_at: iso(now + backoff) },
    transition: {
      ...base,
      summary: `${phase.name} failed (attempt ${attempts} of ${max}), ${retry}`,
      outcome: 'failed',
      extra,
    },
  };
}

/** The phase's verdict rejected the work: back to `onReject` for another round, or blocked after max_loops. */
function rejectedByPhase(c: AttemptContext, onReject: string): Decision {
  const { item, phase, base, released } = c;
  const loops = item.fields.loops;
  if (loops >= phase.max_loops) {
    const rejected = `${phase.name} rejected the work ${times(loops + 1)} (max_loops: ${phase.max_loops})`;
    return {
      to: BLOCKED,
      changes: {
        ...released,
        status: 'failed',
        blocked_reason: `${rejected}; read ${BACKLOG_DIR}/${BLOCKED}/${item.id}/${phase.artifact}`,
        blocked_phase: onReject,
      },
      transition: { ...base, summary: `${phase.name} -> blocked (rejected ${times(loops + 1)})`, outcome: 'blocked' },
    };
  }
  const round = `The ${phase.name} phase rejected the work (round ${loops + 1})`;
  return {
    to: onReject,
    changes: {
      ...released,
      status: 'queued',
      attempts: 0,
      loops: loops + 1,
      feedback: `${round}: read ${phase.artifact} in the item folder and address every blocker and major finding.`,
    },
    transition: {
      ...base,
      summary: `${phase.name} -> ${onReject} (rejected, round ${loops + 1})`,
      outcome: 'rejected',
    },
  };
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
    const cutShort = `attempt ${attempts} of ${maxAttempts(phase, config)} was cut short`;
    const reason = `${cutShort}: the run holding it ended (tend was killed or the machine stopped)`;
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

/**
 * Another clone's claim whose lease ran out (its run stopped, its machine died): the item is
 * requeued here, visibly, and the cut-short attempt counts, as after a crash (decideRecovery).
 */
export function decideTakeover(item: Item, phase: Phase | undefined, config: Config, owner: string): Decision {
  const recovered = decideRecovery(item, phase, config);
  const why = `the lease of ${owner} ran out`;
  const summary = recovered.to
    ? `${item.location} -> blocked (${why}, last attempt)`
    : `${item.location} requeued (${why})`;
  return {
    ...recovered,
    transition: {
      ...recovered.transition,
      summary,
      outcome: recovered.to ? 'blocked' : 'taken-over',
      extra: { ...recovered.transition.extra, 'Tend-Previous-Owner': owner },
    },
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

/** An inbox item taken into the first phase of its pipeline, with the fields tend keeps. */
export function decideIntake(item: Item, firstPhase: string): Decision {
  const created = item.parsed.data.created as string | undefined;
  return {
    to: firstPhase,
    changes: {
      title: item.fields.title,
      priority: item.fields.priority,
      status: 'queued',
      attempts: 0,
      created: created ?? iso(item.createdMs),
      cost_usd: item.fields.cost_usd,
    },
    transition: { id: item.id, phase: INBOX, summary: `inbox -> ${firstPhase}`, outcome: 'intake' },
  };
}

/**
 * A job starts `phase`: the item is `running`, held by `owner`, one attempt more. `branch`: the
 * item's branch, recorded by the first worktree phase (undefined to leave the key alone).
 */
export function decideClaim(item: Item, phase: Phase, owner: string, branch: string | undefined): Decision {
  const attempt = item.fields.attempts + 1;
  return {
    changes: {
      status: 'running',
      owner,
      attempts: attempt,
      resume_at: undefined,
      limited_by: undefined,
      ...(branch === undefined ? {} : { branch }),
    },
    transition: {
      id: item.id,
      phase: phase.name,
      summary: `${phase.name} started (attempt ${attempt})`,
      outcome: 'claimed',
    },
  };
}

/** A job failed for a reason that is not the item's fault (`why`, in a line): the attempt is given back. */
export function decideRequeueAfterError(item: Item, phase: Phase, why: string): Decision {
  return {
    changes: { status: 'queued', owner: undefined, attempts: Math.max(0, item.fields.attempts - 1) },
    transition: { id: item.id, phase: phase.name, summary: `${phase.name} requeued (${why})`, outcome: 'requeued' },
  };
}

/** An item this run claimed that no job holds: back in the queue, its attempt counted. */
export function decideStrayRequeue(item: Item): Decision {
  return {
    changes: { status: 'queued', owner: undefined },
    transition: { id: item.id, phase: item.location, summary: `${item.location} requeued`, outcome: 'requeued' },
  };
}

/** An item that cannot go on without a human (a dependency blocked or missing, ...), for `reason`. */
export function decideBlock(item: Item, reason: string): Decision {
  return {
    to: BLOCKED,
    changes: { status: 'failed', blocked_reason: reason, blocked_phase: item.location },
    transition: {
      id: item.id,
      phase: item.location,
      summary: `${item.location} -> blocked`,
      outcome: 'blocked',
      extra: { 'Tend-Reason': reason },
    },
  };
}

/** `settled` was to take the item to done/, but its branch could not be merged (`reason`): blocked instead. */
export function decideMergeFailed(item: Item, settled: Decision, reason: string): Decision {
  return {
    to: BLOCKED,
    changes: { ...settled.changes, status: 'failed', blocked_reason: reason, blocked_phase: item.location },
    transition: {
      ...settled.transition,
      summary: `${item.location} -> blocked (merge failed)`,
      outcome: 'blocked',
      extra: { ...settled.transition.extra, 'Tend-Reason': reason },
    },
  };
}

/**
 * `tend retry`: a blocked item goes back to the phase it was blocked in (or its pipeline's first),
 * a failed or parked one is retried now. Refused for an item with nothing to retry.
 */
export function decideRetry(item: Item, pipeline: Pipeline | undefined): Decision {
  const id = item.id;
  const fresh: ItemChanges = {
    status: 'queued',
    attempts: 0,
    owner: undefined,
    resume_at: undefined,
    blocked_reason: undefined,
    blocked_phase: undefined,
  };
  if (item.location === BLOCKED) {
    const wanted = item.parsed.data.blocked_phase;
    const phase = pipeline?.phases.find((p) => p.name === wanted) ?? pipeline?.phases[0];
    if (!phase) throw new TendError(`${id} has no pipeline to go back to`, 'set pipeline: in its item.md');
    return {
      to: phase.name,
      changes: { ...fresh, loops: 0 },
      transition: { id, phase: phase.name, summary: `blocked -> ${phase.name} (retry)`, outcome: 'retry' },
    };
  }
  if (item.location === INBOX || item.location === DONE)
    throw new TendError(`${id} is in ${item.location}/; only blocked, failed or parked items can be retried`);
  if (item.fields.status === 'running' || item.fields.status === 'waiting')
    throw new TendError(`${id} is ${item.fields.status}; nothing to retry`);
  return {
    changes: fresh,
    transition: { id, phase: item.location, summary: `${item.location} retry now`, outcome: 'retry' },
  };
}

/** A change a person made under backlog/ while tend ran, as found in what git sees uncommitted. */
export interface HandChange {
  id: string;
  kind: 'edited' | 'moved' | 'removed';
  /** The item as it is now (absent when removed). */
  item?: Item;
  /** Folders the item was in before, per the changed paths (for moves and removals). */
  from: string[];
  /** A short account of what changed, for the commit subject. */
  summary: string;
  /** What to commit: the item's folders that changed (literal paths) or, for an inbox file, that file. */
  paths: string[];
  /** For an edit: the names of the files changed in the item's folder (item.md, artifacts). */
  files?: string[];
}

/**
 * What is committed for a change by hand. A moved item is requeued in its new phase from scratch
 * (`decision`); an edit or a removal is committed as it is on disk (`transition` only).
 * `ranIn`: the phase whose agent was running when the item was found removed.
 */
export function decideHandChange(
  change: HandChange,
  ranIn?: string,
  pipeline?: Pipeline,
): { item: Item; decision: Decision } | { transition: Transition } {
  const summary = ranIn ? `removed while its ${ranIn} agent ran (by a person or by that agent)` : change.summary;
  const transition: Transition = {
    id: change.id,
    phase: change.item?.location ?? change.from[0],
    summary,
    outcome: change.kind,
  };
  if (change.kind === 'edited' && change.item && pipeline) {
    const stale = decideStale(change.item, pipeline, change.files ?? [], transition);
    if (stale) return { item: change.item, decision: stale };
  }
  if (change.kind !== 'moved' || !change.item) return { transition };
  const requeued: ItemChanges = { status: 'queued', attempts: 0, owner: undefined, resume_at: undefined };
  const leftBehind = change.from.map((location) => `${BACKLOG_DIR}/${location}/${change.id}`);
  return { item: change.item, decision: { changes: requeued, transition, leftBehind } };
}

/**
 * An artifact of an earlier phase edited by hand after later phases wrote theirs: the edit is
 * committed as outcome `stale`, and the later artifacts are marked `stale` on the item (added to
 * any marks it had; `stale_source` is the earliest artifact edited) until their phases run again.
 * Undefined when the edit makes nothing stale.
 */
function decideStale(item: Item, pipeline: Pipeline, files: readonly string[], edit: Transition): Decision | undefined {
  const found = staleAfterEdit(pipeline, files, item.artifacts);
  if (!found) return undefined;
  const before = item.fields.stale_source;
  const keepBefore =
    before !== undefined &&
    phaseIndexOfArtifact(pipeline, before) >= 0 &&
    phaseIndexOfArtifact(pipeline, before) <= phaseIndexOfArtifact(pipeline, found.source);
  const marked = [...new Set([...item.fields.stale, ...found.stale])].filter((f) => !files.includes(f));
  const stale = inPipelineOrder(pipeline, marked);
  const summary = `${edit.summary}; ${found.source} changed, stale: ${stale.join(', ')}`;
  return {
    changes: { stale, stale_source: keepBefore ? before : found.source },
    transition: { ...edit, summary, outcome: 'stale', extra: { 'Tend-Stale': stale.join(', ') } },
  };
}

/** The artifacts `phase` writes (its own and each lens's), which running it again makes fresh. */
export function artifactsOf(phase: Phase): string[] {
  return [phase.artifact, ...(phase.fanout ?? []).map((lens) => lensArtifact(phase.artifact, lens))];
}

/** The stale marks left once `phase` has run again: its own artifacts are fresh. */
function freshened(item: Item, phase: Phase): ItemChanges {
  if (item.fields.stale.length === 0) return {};
  const mine = artifactsOf(phase);
  const stale = item.fields.stale.filter((f) => !mine.includes(f));
  if (stale.length === item.fields.stale.length) return {};
  return stale.length > 0 ? { stale } : { stale: undefined, stale_source: undefined };
}

/**
 * `tend redo <id> --from <phase>`: the item goes back to `from` to run it and every phase after
 * it again. The feedback says why (an artifact edited by hand, and `reason` if given); stale marks
 * of the phases before `from` are cleared (the person judged them good), the rest clear as their
 * phases run again. Refused for an item an agent works on, in the inbox, or not yet past `from`.
 */
export function decideRedo(item: Item, pipeline: Pipeline, from: Phase, reason?: string): Decision {
  const id = item.id;
  if (item.location === INBOX) throw new TendError(`${id} is still in the inbox; nothing to redo`);
  if (item.fields.status === 'running')
    throw new TendError(`${id} is running (${item.location})`, 'wait for its phase to end, or stop the run, then redo');
  const at = pipeline.phases.findIndex((p) => p.name === item.location);
  const index = pipeline.phases.indexOf(from);
  if (at !== -1 && index > at)
    throw new TendError(
      `${id} is in ${item.location}, which comes before ${from.name}`,
      `redo sends an item back: name ${item.location} or an earlier phase of ${pipeline.name}`,
    );
  const later = new Set(pipeline.phases.slice(index).flatMap(artifactsOf));
  const stale = item.fields.stale.filter((f) => later.has(f));
  const source = item.fields.stale_source;
  const edited = source
    ? `${source} was edited by hand after the later artifacts were written; read it in the item folder ` +
      `and redo this phase's work so that it follows the edited ${source}.`
    : `A person asked for this phase to be done again.`;
  const feedback = reason ? `${edited} ${reason}` : edited;
  const fresh: ItemChanges = {
    status: 'queued',
    attempts: 0,
    loops: 0,
    owner: undefined,
    approved: undefined,
    resume_at: undefined,
    limit_waits: undefined,
    blocked_reason: undefined,
    blocked_phase: undefined,
    feedback,
    stale: stale.length > 0 ? stale : undefined,
    stale_source: stale.length > 0 ? source : undefined,
  };
  const summary = `${item.location} -> ${from.name} (redo${source ? `, ${source} edited` : ''})`;
  return {
    to: from.name === item.location ? undefined : from.name,
    changes: fresh,
    transition: { id, phase: from.name, summary, outcome: 'redo', extra: { 'Tend-Reason': feedback } },
  };
}

/**
 * Whether the item as committed (`committed`: undefined when its file is gone) still runs under
 * the claim of `owner`. An item.md committed unreadable says nothing either way: held.
 */
export function claimHeld(committed: Record<string, unknown> | undefined, owner: string | undefined): boolean {
  if (!committed) return false;
  if (typeof committed.status !== 'string') return true;
  return committed.status === 'running' && committed.owner === owner;
}
