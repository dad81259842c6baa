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
  /** True when budget.per_run_usd kept an item from starting. */
  budgetReached: boolean;
}

export interface SchedulerState {
  now: number;
  /** Agent slots free right now (global concurrency minus agents running). */
  freeSlots: number;
  /** Items this run is working on, by id, with their phase. */
  active: ReadonlyMap<string, string>;
  /** Dollars this run has spent so far, before a restart after a crash included (budget.per_run_usd). */
  spentUsd: number;
  /** Ids of items that exist but are invalid: depending on one waits, it does not block. */
  invalidIds: ReadonlySet<string>;
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

export function plan(items: readonly Item[], config: Config, state: SchedulerState): Plan {
  const result: Plan = {
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
  const byId = new Map(items.map((i) => [i.id, i]));
  const deps = new Map(items.map((i) => [i.id, i.fields.depends_on]));
  const sorted = [...items].sort(compareItems);
  const budget = config.settings.budget;
  const runBudgetLeft = budget.per_run_usd === undefined || state.spentUsd < budget.per_run_usd;
  const limits = agentLimits(items, config, state.now);

  // Running counts per phase, to apply each pipeline's per-phase concurrency.
  const perPhase = new Map<string, number>();
  for (const phase of state.active.values()) perPhase.set(phase, (perPhase.get(phase) ?? 0) + 1);
  let slots = state.freeSlots;

  for (const item of sorted) {
    if (item.location === INBOX) {
      result.intake.push(item);
      continue;
    }
    if (item.location === DONE || item.location === BLOCKED || state.active.has(item.id)) continue;
    const pipeline = pipelineOf(item, config);
    const phase = pipeline?.phases.find((p) => p.name === item.location);
    if (!pipeline || !phase) continue; // reported as invalid by validate.ts
    const f = item.fields;
    if (f.status === 'running') continue; // held by another run (or recovered before planning)
    if (f.status === 'waiting') {
      if (f.approved === true) result.approved.push({ item, pipeline, phase });
      else result.waiting.push(item);
      continue;
    }
    const missing = f.depends_on.filter((d) => !byId.has(d) && !state.invalidIds.has(d));
    if (missing.length > 0) {
      result.block.push({
        item,
        reason: `depends on ${missing.join(', ')}, which no item has as id; fix depends_on`,
        missingDependency: true,
      });
      continue;
    }
    const cycle = cycleThrough(item.id, deps);
    if (cycle) {
      result.block.push({
        item,
        reason: `dependency cycle ${cycle.join(' -> ')}; remove one of these depends_on entries`,
      });
      continue;
    }
    if (f.depends_on.some((d) => byId.get(d)?.location === BLOCKED)) {
      result.stuck.push(item);
      continue;
    }
    if (f.depends_on.some((d) => byId.get(d)?.location !== DONE)) continue;
    if (budget.per_item_usd !== undefined && f.cost_usd >= budget.per_item_usd) {
      result.block.push({
        item,
        reason: `spent $${f.cost_usd.toFixed(2)}, at or over budget.per_item_usd ($${budget.per_item_usd.toFixed(2)}); raise the cap or finish it by hand`,
      });
      continue;
    }
    const resumeAt = f.resume_at ? Date.parse(f.resume_at) : NaN;
    if (!Number.isNaN(resumeAt) && resumeAt > state.now) {
      (f.status === 'failed' ? result.retrying : result.parked).push(item);
      continue;
    }
    const agent = agentOf(phase, config, state.agent);
    const limitEnds = limits.get(agent);
    if (limitEnds !== undefined) {
      result.limited.push({ item, agent, until: new Date(limitEnds).toISOString() });
      continue;
    }
    if (!runBudgetLeft) result.budgetReached = true;
    if (slots <= 0 || !runBudgetLeft) continue;
    const cap = pipeline.concurrency[phase.name];
    if (cap !== undefined && (perPhase.get(phase.name) ?? 0) >= cap) continue;
    result.start.push({ item, pipeline, phase });
    perPhase.set(phase.name, (perPhase.get(phase.name) ?? 0) + 1);
    slots -= 1;
  }
  return result;
}

/** The phase after `phase` in `pipeline`, or undefined when it is the last. */
export function nextPhase(pipeline: Pipeline, phase: string): Phase | undefined {
  const index = pipeline.phases.findIndex((p) => p.name === phase);
  return index === -1 ? pipeline.phases[0] : pipeline.phases[index + 1];
}
