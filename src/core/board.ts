// The board: items grouped by folder in pipeline order, each group in scheduling order. Pure.
import type { Config } from './config.js';
import type { Problem } from './problem.js';
import { BLOCKED, DONE, INBOX, type InvalidEntry, type Item, type Snapshot } from './backlog.js';

/** Scheduling order: priority (1 first), then age (oldest first), then id for a stable tie. */
export function compareItems(a: Item, b: Item): number {
  return a.fields.priority - b.fields.priority || a.createdMs - b.createdMs || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}

/** Folder order: inbox, the default pipeline's phases, other pipelines' extra phases, done, blocked. */
export function locationOrder(config: Config): string[] {
  const pipelines = [...config.pipelines.values()].sort(
    (a, b) => Number(b.name === config.settings.default_pipeline) - Number(a.name === config.settings.default_pipeline),
  );
  const phases = [...new Set(pipelines.flatMap((p) => p.phases.map((ph) => ph.name)))];
  return [INBOX, ...phases, DONE, BLOCKED];
}

export interface ItemJson {
  id: string;
  title: string;
  location: string;
  file: string;
  pipeline: string | null;
  priority: number;
  status: string;
  attempts: number;
  labels: string[];
  depends_on: string[];
  created: string;
  age_seconds: number;
  cost_usd: number;
  artifacts: string[];
  owner: string | null;
  approved: boolean | null;
  resume_at: string | null;
  blocked_reason: string | null;
  branch: string | null;
  /** Artifacts marked stale by a hand edit of an earlier one, and that artifact. */
  stale: string[];
  stale_source: string | null;
  /** The spending cap that keeps the item from starting its phase (`budget.per_day_usd`), or null. */
  held_by: string | null;
}

export function itemJson(item: Item, now: number, heldBy?: string): ItemJson {
  const f = item.fields;
  return {
    id: item.id,
    title: f.title,
    location: item.location,
    file: item.file,
    pipeline: f.pipeline ?? null,
    priority: f.priority,
    status: f.status,
    attempts: f.attempts,
    labels: f.labels,
    depends_on: f.depends_on,
    created: new Date(item.createdMs).toISOString(),
    age_seconds: Math.max(0, Math.round((now - item.createdMs) / 1000)),
    cost_usd: f.cost_usd,
    artifacts: item.artifacts,
    owner: f.owner ?? null,
    approved: f.approved ?? null,
    resume_at: f.resume_at ?? null,
    blocked_reason: f.blocked_reason ?? null,
    branch: f.branch ?? null,
    stale: f.stale,
    stale_source: f.stale_source ?? null,
    held_by: heldBy ?? null,
  };
}

interface BoardGroup {
  location: string;
  items: Item[];
  /** How many items the folder holds: for done/, every finished item, though only `items` are shown. */
  count: number;
}

export interface Board {
  groups: BoardGroup[];
  invalid: InvalidEntry[];
  /** The finished items shown, latest first, and whether they are all of them. */
  done: { shown: string[]; all: boolean };
}

/**
 * The board of `snapshot`, whose items include the finished ones to show. `latestDone`: done/'s
 * ids, latest first, that fixes their order; finished items not in it come after, in scheduling
 * order. Every other folder is in scheduling order.
 */
export function board(snapshot: Snapshot, config: Config, latestDone: readonly string[] = []): Board {
  const order = locationOrder(config);
  const byLocation = new Map<string, Item[]>(order.map((l) => [l, []]));
  for (const item of snapshot.items) byLocation.set(item.location, [...(byLocation.get(item.location) ?? []), item]);
  const rank = new Map(latestDone.map((id, i) => [id, i]));
  const newestFirst = (a: Item, b: Item) =>
    (rank.get(a.id) ?? rank.size) - (rank.get(b.id) ?? rank.size) || compareItems(a, b);
  const groups = [...byLocation].map(([location, items]) => {
    if (location !== DONE) return { location, items: [...items].sort(compareItems), count: items.length };
    return { location, items: [...items].sort(newestFirst), count: Math.max(items.length, snapshot.done.size) };
  });
  const shown = groups.find((g) => g.location === DONE)?.items.map((i) => i.id) ?? [];
  return {
    groups,
    invalid: [...snapshot.invalid].sort((a, b) => (a.path < b.path ? -1 : 1)),
    done: { shown, all: shown.length >= snapshot.done.size },
  };
}

/** A problem in JSON output: every key always present (null when unknown), for a stable schema. */
export function problemJson(p: Problem) {
  return { file: p.file, line: p.line ?? null, key: p.key ?? null, message: p.message, fix: p.fix ?? null };
}

/** The documented `tend status --json` shape (README, "JSON output"). */
export function boardJson(
  b: Board,
  config: { errors: Problem[]; warnings: Problem[] },
  now: number,
  held: ReadonlyMap<string, string> = new Map(),
) {
  return {
    version: 1,
    items: b.groups.flatMap((g) => g.items.map((i) => itemJson(i, now, held.get(i.id)))),
    counts: Object.fromEntries(b.groups.map((g) => [g.location, g.count])),
    done: { count: b.groups.find((g) => g.location === DONE)?.count ?? 0, ...b.done },
    invalid: b.invalid.map((i) => ({
      path: i.path,
      id: i.id ?? null,
      location: i.location ?? null,
      problems: i.problems.map(problemJson),
    })),
    config: { errors: config.errors.map(problemJson), warnings: config.warnings.map(problemJson) },
  };
}
