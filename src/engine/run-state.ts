// The state of one run: its context (root, branch, configuration, reporter; read by every part)
// and what the loop knows between ticks (what is running, what the run leaves alone, the
// summary). Only the loop (runner.ts) changes the latter: the steps it calls return what
// happened (Happened), and jobs tell it (JobEvent in job.ts). `apply` is how the run changes the
// backlog: through the writer, one commit per transition; it alone also counts and reports each
// commit as it lands, so the count holds even for a step that fails after committing.
import os from 'node:os';
import type { SyncStatus } from '../edges/remote.js';
import { carryOut, type ItemTarget } from './writer.js';
import { BLOCKED, type Item } from '../core/backlog.js';
import type { Config } from '../core/config.js';
import type { Transition } from '../core/transition.js';
import type { Decision } from '../core/decide.js';
import type { DayRead } from './run-budget.js';

export interface Reporter {
  transition(t: Transition): void;
  info(message: string): void;
  warn(message: string): void;
  activity?(id: string, phase: string, lens: string | undefined, line: string): void;
  /** Items per folder, after each fresh read of the backlog. */
  board?(counts: Record<string, number>): void;
  /** Where the clone stands against its remote after each sync (the live view shows a failing one). */
  sync?(status: SyncStatus): void;
}

export interface RunSummary {
  transitions: number;
  phasesDone: number;
  failures: number;
  done: string[];
  blocked: string[];
  waiting: string[];
  parked: { id: string; until: string }[];
  /** Items waiting on a blocked dependency. */
  stuck: string[];
  costUsd: number;
  elapsedMs: number;
  /** Errors that were not an item's own fault (git, the agent CLI missing, ...). */
  errors: string[];
  /** Why the run started nothing new although items were ready (budget.per_run_usd or per_day_usd), if so. */
  stoppedBy?: string;
}

export function emptySummary(): RunSummary {
  return {
    transitions: 0,
    phasesDone: 0,
    failures: 0,
    done: [],
    blocked: [],
    waiting: [],
    parked: [],
    stuck: [],
    costUsd: 0,
    elapsedMs: 0,
    errors: [],
  };
}

/**
 * What a step the loop asked for did (intake, approvals, blocks, requeues, changes by hand), for
 * the loop to fold into what it knows: the modules return it rather than change the run's state.
 */
export interface Happened {
  /** Something was committed: the snapshot is stale. */
  changed: boolean;
  /** Items moved to blocked/. */
  blocked: string[];
  /** Items whose transition failed for a reason outside tend's control: not retried this run. */
  failed: { id: string; error: unknown }[];
}

export function nothingYet(): Happened {
  return { changed: false, blocked: [], failed: [] };
}

export interface RunSetup {
  root: string;
  /** The branch every transition is committed on. */
  branch: string;
  config: Config;
  concurrency: number;
  /** The agent given with --agent, used instead of the configured ones. */
  agent: string | undefined;
  signal: AbortSignal;
  reporter: Reporter;
  summary: RunSummary;
  /** Dollars spent by the run this one continues after a crash (see run-budget.ts). */
  carriedUsd?: number;
}

export class RunState {
  readonly root: string;
  readonly branch: string;
  readonly concurrency: number;
  readonly agent: string | undefined;
  readonly signal: AbortSignal;
  readonly reporter: Reporter;
  readonly summary: RunSummary;
  readonly carriedUsd: number;
  /** Written into `owner` of the items this run claims. */
  readonly owner = `${os.hostname()}:${process.pid}`;
  /** The git remote this run syncs with (`--sync`, `git.remote`), and where its syncing stands. */
  remote?: string;
  /**
   * `offline`: syncs fail and are tried again with backoff; `unreachable`: because the remote
   * cannot be reached, the one case in which a claim is held here without reaching it.
   */
  readonly sync: {
    head: string;
    nextAt: number;
    backoffMs: number;
    offline: boolean;
    unreachable: boolean;
    note?: string;
  } = { head: '', nextAt: 0, backoffMs: 0, offline: false, unreachable: false };
  /** The last good configuration; the loop replaces it when the files change. */
  config: Config;
  // What the loop knows between ticks, changed by runner.ts alone.
  /** Items a job is working on, by id, with the phase it started. */
  readonly active = new Map<string, string>();
  readonly jobs = new Map<string, Promise<void>>();
  /** Aborting one stops that job's agent. */
  readonly controllers = new Map<string, AbortController>();
  // Items whose transition failed for a reason outside tend's control; not retried this run.
  readonly broken = new Set<string>();
  /**
   * Items whose claim was lost while syncs fail (the remote had moved them, but its commits cannot
   * come in yet): not planned until a sync works, so the run does not claim them again and again.
   */
  readonly awaitingSync = new Set<string>();
  /** Items another tend process is carrying a transition out for right now: not planned. */
  busy: ReadonlySet<string> = new Set<string>();
  /** Errors in a row per item that were not the item's fault. */
  readonly errorCounts = new Map<string, number>();
  // Items a human moved or deleted while their agent ran: the agent is stopped, and the
  // human's change is committed as it is instead of the phase's result.
  readonly takenByHand = new Set<string>();
  // Items whose claim is on the remote (or held offline) and whose agent may be running: what a
  // sync brings in about them is checked (another clone may have taken the claim over).
  readonly held = new Set<string>();
  // Items a sync showed taken over by another clone while their agent ran: the agent is stopped,
  // and its job commits nothing (what the agent wrote is set aside under refs/tend/dropped/).
  readonly takenByRemote = new Set<string>();
  // Items whose job is moving their folder right now: not a human's doing.
  readonly moving = new Set<string>();
  // Items whose agent has exited while their job goes on: a change to their folder now is
  // checked by the job (see agent-changes.ts), not taken as a person's.
  readonly agentsDone = new Set<string>();
  /** Items found gone when their agent was done (by a person or that agent): id -> phase. */
  readonly removedWhileRunning = new Map<string, string>();
  /** Items blocked for a missing dependency in one snapshot, awaiting a second read to agree. */
  suspectMissing: ReadonlySet<string> = new Set<string>();
  /** Inbox files a process still has open for writing: looked at again soon, not taken in yet. */
  writing: ReadonlySet<string> = new Set<string>();
  /** The backlog may hold changes made by hand: look for them on the next tick. */
  dirty = true;
  /** When the look for changes by hand last went inside backlog/done/ (0: not yet this run). */
  doneScannedAt = 0;
  /** An error that stops the run (the branch moved, the agent CLI is missing). */
  fatal: Error | undefined;

  constructor(setup: RunSetup) {
    this.root = setup.root;
    this.branch = setup.branch;
    this.config = setup.config;
    this.concurrency = setup.concurrency;
    this.agent = setup.agent;
    this.signal = setup.signal;
    this.reporter = setup.reporter;
    this.summary = setup.summary;
    this.carriedUsd = setup.carriedUsd ?? 0;
  }

  /** Read at each commit, so a reloaded configuration applies at once. */
  get author(): string | undefined {
    return this.config.settings.git.author;
  }

  /** Where the run commits, as whom, and how it settles workspaces: read at each commit. */
  get target(): ItemTarget {
    return {
      root: this.root,
      branch: this.branch,
      author: this.author,
      settings: this.config.settings,
      signal: this.signal,
      warn: (message) => this.reporter.warn(message),
      remote: this.remote,
    };
  }

  /** Carry the decision out through the writer, and report the transition it committed. */
  async apply(item: Item, decision: Decision): Promise<Item> {
    const written = await carryOut(this.target, { item, decision });
    if (written.committed) this.committed(written.transition);
    return written.item;
  }

  /**
   * `apply`, but a failure is noted in `happened` (for the loop, which leaves the item alone for
   * the rest of the run) instead of thrown. True if the decision was carried out.
   */
  async attempt(happened: Happened, item: Item, d: Decision): Promise<boolean> {
    try {
      await this.apply(item, d);
      happened.changed = true;
      if (d.to === BLOCKED) happened.blocked.push(item.id);
      return true;
    } catch (err) {
      happened.failed.push({ id: item.id, error: err });
      return false;
    }
  }

  /** What the run has spent against budget.per_run_usd. */
  get spentUsd(): number {
    return this.carriedUsd + this.summary.costUsd;
  }

  /** The last read of the day's spending from history (budget.per_day_usd), replaced by the loop. */
  dayRead: DayRead | undefined;

  /** Spent in the last 24 hours against budget.per_day_usd: as last read, plus what the run spent since. */
  get daySpentUsd(): number | undefined {
    return this.dayRead && this.dayRead.usd + (this.spentUsd - this.dayRead.runUsd);
  }

  /** Count a transition that was committed, and report it. */
  committed(transition: Transition): void {
    this.summary.transitions += 1;
    this.reporter.transition(transition);
  }

  /** An error that was not an item's own fault: in the summary, and reported now. */
  error(message: string): void {
    this.summary.errors.push(message);
    this.reporter.warn(message);
  }
}
