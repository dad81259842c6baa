// The scheduler: a pure function from a snapshot of the backlog to what to do now. It never
// touches the disk; the runner carries out what it returns.
import { compareItems } from './board.js';
import { BLOCKED, DONE, INBOX, type Item } from './backlog.js';
import type { Config } from './config.js';
import type { Phase, Pipeline } from './pipeline.js';

export interface Start {
  item: Item;
  pipeline: Pipeline;
  phase: Phase;
}

export interface Plan {
  /** Inbox items to take in, in scheduling order. */
  intake: Item[];
  /** Items waiting for a human who has now set `approved: true`. */
  approved: Start[];
  /** Items to start a phase for, in order, within the concurrency limits. */
  start: Start[];
  /** Items that cannot go on without a human, with the reason. */
  block: { item: Item; reason: string; missingDependency?: boolean }[];
  /** Items waiting on a dependency that is itself blocked: they move once a human unblocks it. */
  stuck: Item[];
  /** Items that will become runnable by themselves: failed attempts waiting out their backoff. */
  retrying: Item[];
  /** Items parked until a provider's limit resets (`resume_at`). */
  parked: Item[];
  /** Items waiting for a human (`status: waiting`). */
  waiting: Item[];
  /** Items not started because the agent their phase uses is out of its usage limit until `until`. */
  limited: { item: Item; agent: string; until: string }[];
  /** True when a spending cap (budget.per_run_usd or budget.per_day_usd) kept an item from starting. */
  budgetReached: boolean;
  /** Which cap that was. */
  cap?: Cap;
}

/** The caps that stop a run from starting anything new (budget.per_item_usd blocks the one item instead). */
export type Cap = 'budget.per_run_usd' | 'budget.per_day_usd';

export interface SchedulerState {
  now: number;
  /** Slots free right now: global concurrency minus the items being worked on (a fan-out is one item). */
  freeSlots: number;
  /** Items this run is working on, by id, with their phase. */
  active: ReadonlyMap<string, string>;
  /** Dollars this run has spent so far, before a restart after a crash included (budget.per_run_usd). */
  spentUsd: number;
  /** Dollars spent in the last 24 hours, from the commits' cost trailers (budget.per_day_usd). */
  daySpentUsd?: number;
  /** Ids of items that exist but are invalid: depending on one waits, it does not block. */
  invalidIds: ReadonlySet<string>;
  /** Ids of the items in done/, known by their folder names (Snapshot.done): each one meets a dependency. */
  finished: ReadonlySet<string>;
  /** `--agent`, which replaces the agent of every phase. */
  agent?: string;
}

export function pipelineOf(item: Item, config: Config): Pipeline | undefined {
  return config.pipelines.get(item.fields.pipeline ?? config.settings.default_pipeline);
}

/** The agent a phase runs: `--agent`, else the phase's own, else the configured default. */
export function agentOf(phase: Phase, config: Config, override: string | undefined): string {
  return override ?? phase.agent ?? config.settings.agent;
}

/**
 * When each agent's usage limit resets, from the items parked by one (`limited_by`, with a
 * `resume_at` still ahead). A limit belongs to the provider (the agent and the account it is
 * configured with), not to the item that met it: every item that would use that agent waits too.
 * Derived from the item files, so a restart keeps it and `tend retry` of the parked item lifts it.
 */
export function agentLimits(items: readonly Item[], config: Config, now: number): Map<string, number> {
  const limits = new Map<string, number>();
  for (const item of items) {
    const agent = item.parsed.data.limited_by;
    const resumeAt = Date.parse(item.fields.resume_at ?? '');
    if (typeof agent !== 'string' || item.fields.status !== 'queued' || !(resumeAt > now)) continue;
    if (item.location === INBOX || item.location === DONE || item.location === BLOCKED) continue;
    limits.set(agent, Math.max(limits.get(agent) ?? 0, resumeAt));
  }
  return limits;
}

/** Ids on a dependency cycle that passes through `id`, or undefined. */
function cycleThrough(id: string, deps: ReadonlyMap<string, string[]>): string[] | undefined {
  const stack: { node: string; path: string[] }[] = [{ node: id, path: [id] }];
  const seen = new Set<string>();
  while (stack.length > 0) {
    const { node, path } = stack.pop()!;
    for (const next of deps.get(node) ?? []) {
      if (next === id) return [...path, id];
      if (!seen.has(next)) {
        seen.add(next);
        stack.push({ node: next, path: [...path, next] });
      }
    }
  }
  return undefined;
}

/** What planning one item needs to know about the others and the run, worked out once. */
interface PlanContext {
  config: Config;
  state: SchedulerState;
  byId: ReadonlyMap<string, Item>;
  deps: ReadonlyMap<string, string[]>;
  /** When each agent's usage limit resets (agentLimits). */
  limits: ReadonlyMap<string, number>;
  /** The cap reached, if any: nothing starts while it holds. */
  cap: Cap | undefined;
}

/** What is left to hand out as items start: slots, and each phase's count of running items. */
interface Capacity {
  slots: number;
  perPhase: Map<string, number>;
}

function emptyPlan(): Plan {
  return {
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
  };
}

function planContext(items: readonly Item[], config: Config, state: SchedulerState): PlanContext {
  return {
    config,
    state,
    byId: new Map(items.map((i) => [i.id, i])),
    deps: new Map(items.map((i) => [i.id, i.fields.depends_on])),
    limits: agentLimits(items, config, state.now),
    cap: capReached(config, { runUsd: state.spentUsd, dayUsd: state.daySpentUsd }),
  };
}

/** The spending cap reached, if any: the run's own first, then the rolling 24 hours'. */
export function capReached(config: Config, spent: { runUsd?: number; dayUsd?: number }): Cap | undefined {
  const { per_run_usd: perRun, per_day_usd: perDay } = config.settings.budget;
  if (perRun !== undefined && spent.runUsd !== undefined && spent.runUsd >= perRun) return 'budget.per_run_usd';
  if (perDay !== undefined && spent.dayUsd !== undefined && spent.dayUsd >= perDay) return 'budget.per_day_usd';
  return undefined;
}

/**
 * Whether `cap` holds `item` back: it would start a phase but for the cap (it sits queued or
 * failed in a phase of its pipeline). For `tend status`, which has no run to plan with.
 */
export function heldByCap(item: Item, config: Config, cap: Cap | undefined): Cap | undefined {
  if (!cap || (item.fields.status !== 'queued' && item.fields.status !== 'failed')) return undefined;
  return pipelineOf(item, config)?.phases.some((p) => p.name === item.location) ? cap : undefined;
}

/** Free slots, and the items running per phase (each pipeline's per-phase concurrency counts them). */
function capacityOf(state: SchedulerState): Capacity {
  const perPhase = new Map<string, number>();
  for (const phase of state.active.values()) perPhase.set(phase, (perPhase.get(phase) ?? 0) + 1);
  return { slots: state.freeSlots, perPhase };
}

/**
 * The phase an item in a phase folder would run next. Inbox items go to intake and items
 * waiting for a human are listed; items that are finished, blocked, already running or invalid
 * are left alone.
 */
function phaseToRun(item: Item, ctx: PlanContext, result: Plan): Start | undefined {
  if (item.location === INBOX) {
    result.intake.push(item);
    return undefined;
  }
  if (item.location === DONE || item.location === BLOCKED || ctx.state.active.has(item.id)) return undefined;
  const pipeline = pipelineOf(item, ctx.config);
  const phase = pipeline?.phases.find((p) => p.name === item.location);
  if (!pipeline || !phase) return undefined; // reported as invalid by validate.ts
  const f = item.fields;
  if (f.status === 'running') return undefined; // held by another run (or recovered before planning)
  if (f.status === 'waiting') {
    if (f.approved === true) result.approved.push({ item, pipeline, phase });
    else result.waiting.push(item);
    return undefined;
  }
  return { item, pipeline, phase };
}

/**
 * Whether the item's dependencies let it run: all of them in done/. One no item has as id, or a
 * cycle, blocks it; a blocked dependency leaves it stuck; any other waits quietly.
 */
function dependenciesDone(item: Item, ctx: PlanContext, result: Plan): boolean {
  const dependsOn = item.fields.depends_on;
  const finished = (d: string) => ctx.state.finished.has(d) || ctx.byId.get(d)?.location === DONE;
  const missing = dependsOn.filter((d) => !ctx.byId.has(d) && !finished(d) && !ctx.state.invalidIds.has(d));
  if (missing.length > 0) {
    result.block.push({
      item,
      reason: `depends on ${missing.join(', ')}, which no item has as id; fix depends_on`,
      missingDependency: true,
    });
    return false;
  }
  const cycle = cycleThrough(item.id, ctx.deps);
  if (cycle) {
    result.block.push({
      item,
      reason: `dependency cycle ${cycle.join(' -> ')}; remove one of these depends_on entries`,
    });
    return false;
  }
  if (dependsOn.some((d) => ctx.byId.get(d)?.location === BLOCKED)) {
    result.stuck.push(item);
    return false;
  }
  return dependsOn.every(finished);
}

/** Whether nothing but free capacity keeps the item from starting: dependencies, budget, backoff, usage limits. */
function readyToStart(start: Start, ctx: PlanContext, result: Plan): boolean {
  const { item, phase } = start;
  const f = item.fields;
  if (!dependenciesDone(item, ctx, result)) return false;
  const perItem = ctx.config.settings.budget.per_item_usd;
  if (perItem !== undefined && f.cost_usd >= perItem) {
    const spent = `spent $${f.cost_usd.toFixed(2)}, at or over budget.per_item_usd ($${perItem.toFixed(2)})`;
    result.block.push({ item, reason: `${spent}; raise the cap or finish it by hand` });
    return false;
  }
  const resumeAt = f.resume_at ? Date.parse(f.resume_at) : NaN;
  if (!Number.isNaN(resumeAt) && resumeAt > ctx.state.now) {
    (f.status === 'failed' ? result.retrying : result.parked).push(item);
    return false;
  }
  const agent = agentOf(phase, ctx.config, ctx.state.agent);
  const limitEnds = ctx.limits.get(agent);
  if (limitEnds !== undefined) {
    result.limited.push({ item, agent, until: new Date(limitEnds).toISOString() });
    return false;
  }
  return true;
}

/** Starts the item if the run's budget, a free slot and its phase's concurrency allow. */
function startIfRoom(start: Start, ctx: PlanContext, capacity: Capacity, result: Plan): void {
  if (ctx.cap) {
    result.budgetReached = true;
    result.cap = ctx.cap;
  }
  if (capacity.slots <= 0 || ctx.cap) return;
  const name = start.phase.name;
  const cap = start.pipeline.concurrency[name];
  if (cap !== undefined && (capacity.perPhase.get(name) ?? 0) >= cap) return;
  result.start.push(start);
  capacity.perPhase.set(name, (capacity.perPhase.get(name) ?? 0) + 1);
  capacity.slots -= 1;
}

/** Every item in scheduling order: filed where it stands, and started while there is room. */
export function plan(items: readonly Item[], config: Config, state: SchedulerState): Plan {
  const result = emptyPlan();
  const ctx = planContext(items, config, state);
  const capacity = capacityOf(state);
  for (const item of [...items].sort(compareItems)) {
    const start = phaseToRun(item, ctx, result);
    if (start && readyToStart(start, ctx, result)) startIfRoom(start, ctx, capacity, result);
  }
  return result;
}

/** The phase after `phase` in `pipeline`, or undefined when it is the last. */
export function nextPhase(pipeline: Pipeline, phase: string): Phase | undefined {
  const index = pipeline.phases.findIndex((p) => p.name === phase);
  return index === -1 ? pipeline.phases[0] : pipeline.phases[index + 1];
}
