// What budget.per_run_usd and budget.per_day_usd count. A run is one `tend run` from its start until it ends, by
// itself or by a signal; a run cut off by a crash, kill -9 or a reboot and started again is the
// same run, so a restart never hands out a fresh budget. A marker in .tend/ says a run is under
// way; the next run finding it knows the last one was cut off and carries on its spending, which
// it adds up from the cost trailers of the commits made since that run started (the commits are
// the record: a cost is in its transition's commit or nowhere).
import { readFile, rm, writeFile, mkdir } from 'node:fs/promises';
import path from 'node:path';
import { git } from '../edges/git.js';
import { STATE_DIR } from '../edges/state-dir.js';
import { transitionCommits } from '../edges/history.js';
import { spentSince as spentInWindow, transitionsFrom } from '../core/transition-log.js';
import { capReached, heldByCap, type Cap } from '../core/scheduler.js';
import type { Config } from '../core/config.js';
import type { Item } from '../core/backlog.js';

const MARKER = path.join(STATE_DIR, 'run-started.json');

export interface RunBudgetStart {
  /** When the run began: now, or when the run this one continues began. */
  started: string;
  /** Dollars the cut-off run had spent before this process took over. */
  carriedUsd: number;
}

/** Called while holding the run lock, so a marker found here is a cut-off run's. */
export async function beginRunBudget(root: string): Promise<RunBudgetStart> {
  const file = path.join(root, MARKER);
  const previous = await readFile(file, 'utf8')
    .then((text) => (JSON.parse(text) as { started?: unknown }).started)
    .catch(() => undefined);
  const continued = typeof previous === 'string' && !Number.isNaN(Date.parse(previous));
  const started = continued ? previous : new Date().toISOString();
  await mkdir(path.dirname(file), { recursive: true });
  await writeFile(file, JSON.stringify({ pid: process.pid, started }));
  return { started, carriedUsd: continued ? await spentSince(root, started) : 0 };
}

/** The run ended by itself or by a signal: the next one starts with a fresh budget. */
export async function endRunBudget(root: string): Promise<void> {
  await rm(path.join(root, MARKER), { force: true });
}

/** Dollars in the Tend-Cost-USD trailers of the commits on HEAD since `since`. */
async function spentSince(root: string, since: string): Promise<number> {
  const log = await git(root, ['log', `--since=${since}`, '--format=%(trailers:key=Tend-Cost-USD,valueonly)']);
  if (log.exitCode !== 0) return 0;
  return log.stdout
    .split('\n')
    .map(Number)
    .filter((n) => Number.isFinite(n))
    .reduce((a, b) => a + b, 0);
}

/** budget.per_day_usd's window: a rolling 24 hours. */
export const DAY_MS = 24 * 60 * 60_000;

/**
 * Dollars spent in the 24 hours before `nowMs`, from the Tend-Cost-USD trailers of the commits on
 * HEAD: every run's, on this machine or on one whose commits came in through the remote, before a
 * restart or not. `git log --since` keeps the read to the window.
 */
export async function spentInLastDay(root: string, nowMs: number): Promise<number> {
  const from = nowMs - DAY_MS;
  const records = await transitionCommits(root, { since: new Date(from).toISOString() });
  return spentInWindow(transitionsFrom(records), from);
}

/** How long a run trusts its last read of the day's spending (its own costs are added as they come). */
export const DAY_READ_MS = 30_000;

/** The day's spending as last read from history, and the run's own spending at that moment. */
export interface DayRead {
  atMs: number;
  usd: number;
  runUsd: number;
}

/** A fresh DayRead when budget.per_day_usd is set and `last` is older than DAY_READ_MS; else `last`. */
export async function readDay(
  root: string,
  capped: boolean,
  last: DayRead | undefined,
  runUsd: number,
  nowMs: number,
): Promise<DayRead | undefined> {
  if (!capped) return undefined;
  if (last && nowMs - last.atMs < DAY_READ_MS) return last;
  return { atMs: nowMs, usd: await spentInLastDay(root, nowMs), runUsd };
}

/**
 * Outside a run (`tend status`, a report): which items budget.per_day_usd holds back now (id ->
 * the cap), and the day's figures when it is reached. Nothing is read when the cap is not set.
 */
export async function heldByDayCap(
  root: string,
  config: Config,
  items: readonly Item[],
  nowMs: number,
): Promise<{ held: Map<string, Cap>; reached?: { spentUsd: number; capUsd: number } }> {
  const perDay = config.settings.budget.per_day_usd;
  if (perDay === undefined) return { held: new Map() };
  const spentUsd = await spentInLastDay(root, nowMs);
  const cap = capReached(config, { dayUsd: spentUsd });
  const held = new Map<string, Cap>();
  for (const item of items) {
    const by = heldByCap(item, config, cap);
    if (by) held.set(item.id, by);
  }
  return cap ? { held, reached: { spentUsd, capUsd: perDay } } : { held };
}
