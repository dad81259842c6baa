// Transitions read back from git history (`tend log`): the trailers `commitMessage` writes, taken
// apart again. A commit is read as git gives it, so anything a person wrote by hand may be in a
// trailer; a value that cannot be read is kept as written and marked, never guessed at or dropped.
import { parseDuration } from './duration.js';
import { OUTCOMES, type Outcome } from './transition.js';

/**
 * The `git log` format the records are read in, with `-z`: every field ends with a NUL, which no
 * commit message can hold, so a subject with any other character (tabs, newlines folded by git,
 * escape codes) cannot shift a field.
 */
export const LOG_FORMAT = '%H%x00%cI%x00%an%x00%s%x00%(trailers:only,unfold)';
const FIELDS = 5;

/** One commit as git reports it, before it is read as a transition. */
export interface CommitRecord {
  commit: string;
  /** Committer date, ISO 8601 with the committer's offset: the date `--since`/`--until` filter on. */
  time: string;
  author: string;
  subject: string;
  /** The message's trailers in order, as written (keys keep their case). */
  trailers: [string, string][];
}

/** What `tend log` shows of one transition; the JSON output is this object (see the README). */
export interface LoggedTransition {
  commit: string;
  time: string;
  author: string;
  subject: string;
  /** Null for `tend init`, which belongs to no item. */
  item: string | null;
  phase: string | null;
  /** As the trailer says it: an unknown name is kept and listed in `malformed`. */
  outcome: string | null;
  agent: string | null;
  model: string | null;
  durationSeconds: number | null;
  /** Null when no cost was recorded, the agent reported none (`costUnknown`), or it is malformed. */
  costUsd: number | null;
  costUnknown: boolean;
  attempt: number | null;
  /** Every `Tend-*` trailer as written, including those not read above (Tend-Reason, Tend-Tokens ...). */
  trailers: Record<string, string>;
  /** Names of the trailers whose value could not be read, e.g. `Tend-Cost-USD: abc`. */
  malformed: string[];
}

/**
 * A `--since`/`--until` value for git. git reads a bare date (`2026-12-01`) as that day at the
 * current time of day, so `--since 2026-12-01 --until 2026-12-02` would be a window that moves
 * with the clock; a bare date here means midnight, its start. Anything else goes to git as given.
 */
export function gitDate(when: string): string {
  const text = when.trim();
  return /^\d{4}-\d{2}-\d{2}$/.test(text) ? `${text} 00:00` : when;
}

/** `git log -z --format=LOG_FORMAT` output as records; a cut-off last record is left out. */
export function parseLog(raw: string): CommitRecord[] {
  const fields = raw.split('\0');
  const records: CommitRecord[] = [];
  for (let i = 0; i + FIELDS <= fields.length; i += FIELDS) {
    // git ends each record with a newline before the next one's hash.
    const [commit = '', time = '', author = '', subject = '', trailerText = ''] = fields
      .slice(i, i + FIELDS)
      .map((f, n) => (n === 0 ? f.trim() : f));
    if (!/^[0-9a-f]{7,}$/.test(commit)) continue;
    records.push({ commit, time, author, subject, trailers: parseTrailers(trailerText) });
  }
  return records;
}

const TRAILER_KEY = /^[A-Za-z0-9-]+$/;

/** `Key: value` lines of `%(trailers:only,unfold)`. */
export function parseTrailers(text: string): [string, string][] {
  const out: [string, string][] = [];
  for (const line of text.split('\n')) {
    // indexOf rather than one regex per line: a long history has hundreds of thousands of them.
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    const key = line.slice(0, colon).trim();
    if (TRAILER_KEY.test(key)) out.push([key, line.slice(colon + 1).trim()]);
  }
  return out;
}

const KNOWN_OUTCOMES: ReadonlySet<string> = new Set(OUTCOMES);

function isOutcome(value: string): value is Outcome {
  return KNOWN_OUTCOMES.has(value);
}

/** The commit read as a transition, or undefined when it is not tend's (no Tend-Item or Tend-Outcome). */
export function readTransition(record: CommitRecord): LoggedTransition | undefined {
  const trailers: Record<string, string> = {};
  // Keys compare without case, as git's own trailer options do; the last of a repeated key wins.
  const byKey = new Map<string, string>();
  for (const [key, value] of record.trailers) {
    if (!/^tend-/i.test(key)) continue;
    trailers[key] = value;
    byKey.set(key.toLowerCase(), value);
  }
  const get = (key: string) => byKey.get(key.toLowerCase());
  const item = get('Tend-Item');
  const outcome = get('Tend-Outcome');
  if (item === undefined && outcome === undefined) return undefined;
  const malformed: string[] = [];
  const field = <T>(key: string, read: (value: string) => T | undefined): T | null => {
    const value = get(key);
    if (value === undefined) return null;
    const parsed = read(value);
    if (parsed === undefined) malformed.push(key);
    return parsed ?? null;
  };
  if (outcome === undefined || !isOutcome(outcome)) malformed.push('Tend-Outcome');
  const cost = get('Tend-Cost-USD');
  const agent = splitAgent(get('Tend-Agent'));
  return {
    commit: record.commit,
    time: record.time,
    author: record.author,
    subject: record.subject,
    item: item || null,
    phase: get('Tend-Phase') || null,
    outcome: outcome ?? null,
    agent: agent.agent,
    model: agent.model,
    durationSeconds: field('Tend-Duration', readSeconds),
    costUsd: field('Tend-Cost-USD', readCost),
    costUnknown: cost?.toLowerCase() === 'unknown',
    attempt: field('Tend-Attempt', (v) => (/^\d+$/.test(v) ? Number(v) : undefined)),
    trailers,
    malformed,
  };
}

function readSeconds(value: string): number | undefined {
  const ms = parseDuration(value);
  return ms === undefined ? undefined : Math.round(ms / 1000);
}

/** Dollars as tend writes them (`0.41`), or null for `unknown`; anything else is malformed. */
function readCost(value: string): number | null | undefined {
  if (value.toLowerCase() === 'unknown') return null;
  return /^\d+(\.\d+)?$/.test(value) ? Number(value) : undefined;
}

/** `claude (opus)` is agent claude with model opus, as the agents label themselves. */
function splitAgent(label: string | undefined): { agent: string | null; model: string | null } {
  if (!label) return { agent: null, model: null };
  const m = /^(.+?) \((.+)\)$/.exec(label);
  return m?.[1] && m[2] ? { agent: m[1], model: m[2] } : { agent: label, model: null };
}

interface LogFilter {
  id?: string;
  /** Outcome names; empty or absent keeps every outcome. */
  outcomes?: readonly string[];
}

/** The transitions among `records` that pass the filter, in the records' order. */
export function transitionsFrom(records: CommitRecord[], filter: LogFilter = {}): LoggedTransition[] {
  const outcomes = filter.outcomes && filter.outcomes.length > 0 ? new Set(filter.outcomes) : undefined;
  return records
    .map(readTransition)
    .filter((t): t is LoggedTransition => t !== undefined)
    .filter((t) => filter.id === undefined || t.item === filter.id)
    .filter((t) => outcomes === undefined || (t.outcome !== null && outcomes.has(t.outcome)));
}

export interface LogTotals {
  count: number;
  /** The sum of the known costs. */
  knownUsd: number;
  /** Transitions whose agent reported no cost (`Tend-Cost-USD: unknown`). */
  unknown: number;
  /** Transitions whose cost trailer could not be read. */
  malformedCost: number;
}

export function logTotals(transitions: LoggedTransition[]): LogTotals {
  // Whole micro-dollars, so that adding up many figures like 0.1 leaves no binary fraction behind.
  let micros = 0;
  let unknown = 0;
  let malformedCost = 0;
  for (const t of transitions) {
    if (t.costUsd !== null) micros += Math.round(t.costUsd * 1e6);
    if (t.costUnknown) unknown++;
    if (t.malformed.includes('Tend-Cost-USD')) malformedCost++;
  }
  return { count: transitions.length, knownUsd: micros / 1e6, unknown, malformedCost };
}

/** The known dollars of the transitions committed at or after `fromMs` (budget.per_day_usd's window). */
export function spentSince(transitions: LoggedTransition[], fromMs: number): number {
  return logTotals(transitions.filter((t) => Date.parse(t.time) >= fromMs)).knownUsd;
}
