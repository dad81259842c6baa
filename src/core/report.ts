// `tend report`: the night read back from git history and the item files, as one model that the
// Markdown, HTML and JSON outputs all render. Pure: the transitions, the items and the text of
// their artifacts come in (src/edges/report-sources.ts reads them), the model goes out.
import { splitFrontmatter } from './frontmatter.js';
import type { LoggedTransition } from './transition-log.js';
import { readVerdict } from './verdict.js';

/** The size of an item's change: `git diff --shortstat` of its branch, or of the merge that landed it. */
export interface ChangeSize {
  files: number;
  insertions: number;
  deletions: number;
  /** What was measured: `main...tend/x` or the merge commit's id. */
  of: string;
}

/** An artifact of an item: its path from the repository root, and its text when it was read. */
export interface ArtifactText {
  path: string;
  text?: string;
}

/** One item as its file says now, with what the report quotes from it. */
export interface ReportItemInput {
  id: string;
  title: string;
  /** `inbox`, a phase, `done` or `blocked`. */
  location: string;
  status: string;
  /** item.md, from the repository root. */
  file: string;
  body: string;
  blockedReason?: string;
  blockedPhase?: string;
  resumeAt?: string;
  limitedBy?: string;
  branch?: string;
  pr?: string;
  /** For an item waiting for approval: the artifact of its phase, which the person reads first. */
  waitingOn?: string;
  /** Every file beside item.md; the text of the ones the report quotes (PRD, spec, build, review). */
  artifacts: ArtifactText[];
  change?: ChangeSize;
}

export interface ReportInput {
  window: { since: string; until: string | null };
  /** The window's transitions, newest first as git log gives them (commits of one second keep that order). */
  transitions: LoggedTransition[];
  items: ReportItemInput[];
  /** `concurrency` in ORCHESTRATOR.md, if it could be read: a run may have been started with another. */
  concurrency: number | null;
}

export interface Attention {
  id: string;
  title: string;
  kind: 'approval' | 'rejection' | 'blocked';
  /** The phase it waits in, or was blocked in. */
  phase: string | null;
  reason: string;
  /** What a person runs to answer it. */
  commands: string[];
  file: string;
}

export interface LensVerdict {
  lens: string;
  verdict: string;
  summary: string;
  /** The lens's own review, from the repository root, when the table names it. */
  file: string | null;
}

export interface Finished {
  id: string;
  title: string;
  time: string;
  asked: string;
  built: string;
  review: { verdict: string; lenses: LensVerdict[]; file: string } | null;
  branch: string | null;
  pr: string | null;
  change: ChangeSize | null;
  artifacts: string[];
  cost: Money;
}

/** Dollars known, and how many agent runs reported no cost: `unknown > 0` is never shown as $0. */
export interface Money {
  knownUsd: number;
  unknown: number;
  runs: number;
}

export interface MoneyLine extends Money {
  key: string;
}

export interface Failure {
  time: string;
  id: string;
  phase: string | null;
  outcome: string;
  attempt: number | null;
  reason: string;
}

export interface Retried {
  id: string;
  phase: string;
  failed: number;
  /** The latest outcome of that phase in the window: `done` when a retry succeeded. */
  latest: string;
}

export interface ReviewLoop {
  time: string;
  id: string;
  phase: string | null;
  backTo: string | null;
  round: number | null;
  /** `agent` when a review sent it back, `person` when someone ran `tend reject`. */
  by: 'agent' | 'person';
  reason: string;
}

export interface Parked {
  time: string;
  id: string;
  phase: string | null;
  until: string | null;
  reason: string;
}

export interface PhaseTime {
  phase: string;
  runs: number;
  medianSeconds: number;
  longestSeconds: number;
  longestItem: string;
}

export interface Report {
  version: 1;
  window: { since: string; until: string | null; first: string | null; last: string | null };
  transitions: number;
  attention: Attention[];
  finished: Finished[];
  trouble: { failures: Failure[]; retried: Retried[]; reviewLoops: ReviewLoop[]; parked: Parked[] };
  time: {
    phases: PhaseTime[];
    makespanSeconds: number;
    busySeconds: number;
    concurrency: number | null;
    /** busy / (makespan × concurrency), 0 to 1; null when concurrency is unknown or nothing ran. */
    busyShare: number | null;
  };
  money: { total: Money; items: MoneyLine[]; phases: MoneyLine[]; agents: MoneyLine[] };
}

export function buildReport(input: ReportInput): Report {
  const transitions = [...input.transitions].reverse().sort((a, b) => timeOf(a) - timeOf(b));
  const first = transitions[0]?.time ?? null;
  const last = transitions.at(-1)?.time ?? null;
  return {
    version: 1,
    window: { ...input.window, first, last },
    transitions: transitions.length,
    attention: attention(input.items),
    finished: finished(transitions, input.items),
    trouble: trouble(transitions),
    time: timeSpent(transitions, input.concurrency),
    money: money(transitions),
  };
}

function timeOf(t: LoggedTransition): number {
  const ms = Date.parse(t.time);
  return Number.isNaN(ms) ? 0 : ms;
}

function trailer(t: LoggedTransition, key: string): string | undefined {
  const found = Object.keys(t.trailers).filter((k) => k.toLowerCase() === key.toLowerCase());
  const last = found.at(-1);
  return last === undefined ? undefined : t.trailers[last];
}

// ---- what waits for a person ----

const KIND_ORDER = { approval: 0, rejection: 1, blocked: 2 } as const;

/** Items waiting for approval, and blocked ones, as their files say now (whatever the window). */
export function attention(items: ReportItemInput[]): Attention[] {
  const out: Attention[] = [];
  for (const item of items) {
    const base = { id: item.id, title: item.title, file: item.file };
    if (item.location === 'blocked') {
      const reason = item.blockedReason ?? 'no reason recorded';
      const kind = /\breject/i.test(reason) ? 'rejection' : 'blocked';
      const commands = [`tend retry ${item.id}`];
      out.push({ ...base, kind, phase: item.blockedPhase ?? null, reason, commands });
    } else if (item.status === 'waiting') {
      const reason = item.waitingOn
        ? `read ${item.waitingOn}, then approve or reject it`
        : `its ${item.location} phase waits for approval`;
      const commands = [`tend approve ${item.id}`, `tend reject ${item.id} --reason "what must change"`];
      out.push({ ...base, kind: 'approval', phase: item.location, reason, commands });
    }
  }
  return out.sort((a, b) => KIND_ORDER[a.kind] - KIND_ORDER[b.kind] || a.id.localeCompare(b.id));
}

// ---- what finished ----

/** A transition that took an item into done/: `tend: <id> <phase> -> done`. */
function intoDone(t: LoggedTransition): boolean {
  return t.item !== null && /-> done(\s|$)/.test(t.subject);
}

/** The items the window took into done/, each once. */
export function finishedIds(transitions: LoggedTransition[]): string[] {
  return [...new Set(transitions.filter(intoDone).map((t) => t.item ?? ''))];
}

function finished(transitions: LoggedTransition[], items: ReportItemInput[]): Finished[] {
  const byId = new Map(items.map((i) => [i.id, i]));
  const latest = new Map<string, LoggedTransition>();
  for (const t of transitions) if (intoDone(t) && t.item !== null) latest.set(t.item, t);
  return [...latest.values()].map((t) => {
    const id = t.item ?? '';
    const item = byId.get(id);
    return {
      id,
      title: item?.title ?? id,
      time: t.time,
      asked: item ? askedOf(item) : '',
      built: item ? builtOf(item) : '',
      review: item ? reviewOf(item) : null,
      branch: item?.branch ?? null,
      pr: item?.pr ?? null,
      change: item?.change ?? null,
      artifacts: item ? item.artifacts.map((a) => a.path) : [],
      cost: sum(transitions.filter((r) => r.item === id)),
    };
  });
}

function artifactNamed(item: ReportItemInput, ...names: string[]): ArtifactText | undefined {
  for (const name of names) {
    const found = item.artifacts.find((a) => a.path.split('/').at(-1)?.toLowerCase() === name.toLowerCase());
    if (found?.text !== undefined) return found;
  }
  return undefined;
}

function askedOf(item: ReportItemInput): string {
  return excerpt(item.body) || excerpt(artifactNamed(item, 'PRD.md')?.text ?? '');
}

function builtOf(item: ReportItemInput): string {
  return excerpt(artifactNamed(item, 'build.md')?.text ?? '') || excerpt(artifactNamed(item, 'spec.md')?.text ?? '');
}

function reviewOf(item: ReportItemInput): Finished['review'] {
  const review = artifactNamed(item, 'review.md');
  if (review?.text === undefined) return null;
  const read = readVerdict(review.text);
  const dir = review.path.split('/').slice(0, -1).join('/');
  const lenses = lensTable(review.text).map((l) => ({ ...l, file: l.file && `${dir}/${l.file}` }));
  return { verdict: 'verdict' in read ? read.verdict : 'none', lenses, file: review.path };
}

const EXCERPT_CHARS = 400;

/**
 * The first paragraph of prose in a Markdown text, on one line: frontmatter, headings, tables,
 * code and verdict lines are passed over. Cut at a word near EXCERPT_CHARS.
 */
export function excerpt(text: string): string {
  const split = splitFrontmatter(text);
  const body = 'value' in split ? split.value.body : text;
  const prose = body
    .replace(/```[\s\S]*?```/g, '')
    .split(/\r?\n\s*\r?\n/)
    .map((p) =>
      p
        .split(/\r?\n/)
        .filter((l) => !/^\s*(#|\||---|verdict\s*[:=])/i.test(l))
        .join(' ')
        .replace(/\s+/g, ' ')
        .trim(),
    )
    .find((p) => p !== '');
  if (!prose) return '';
  if (prose.length <= EXCERPT_CHARS) return prose;
  const cut = prose.slice(0, EXCERPT_CHARS);
  const space = cut.lastIndexOf(' ');
  return `${space > EXCERPT_CHARS / 2 ? cut.slice(0, space) : cut}…`;
}

/** Cells of a Markdown table row; `\|` stays in its cell. */
function cells(line: string): string[] {
  return line
    .trim()
    .replace(/^\|/, '')
    .replace(/\|$/, '')
    .split(/(?<!\\)\|/)
    .map((c) => c.trim().replace(/\\\|/g, '|'));
}

/** The lens table a fan-out review starts with (`| lens | verdict | summary | file |`), if any. */
export function lensTable(text: string): LensVerdict[] {
  const lines = text.split(/\r?\n/);
  const header = lines.findIndex((l) => {
    const c = cells(l).map((x) => x.toLowerCase());
    return l.trim().startsWith('|') && c.includes('lens') && c.includes('verdict');
  });
  if (header < 0) return [];
  const names = cells(lines[header] ?? '').map((x) => x.toLowerCase());
  const at = (row: string[], name: string) => row[names.indexOf(name)] ?? '';
  const rows: LensVerdict[] = [];
  for (const line of lines.slice(header + 2)) {
    if (!line.trim().startsWith('|')) break;
    const row = cells(line);
    const file = at(row, 'file');
    // Only a plain file name beside review.md is linked: a cell is text an agent wrote.
    const named = /^[\w.-]+\.md$/.test(file) ? file : null;
    rows.push({ lens: at(row, 'lens'), verdict: at(row, 'verdict'), summary: at(row, 'summary'), file: named });
  }
  return rows;
}

// ---- failures, retries, review loops, parking ----

function trouble(transitions: LoggedTransition[]): Report['trouble'] {
  const reason = (t: LoggedTransition) => trailer(t, 'Tend-Reason') ?? '';
  const failures = transitions
    .filter((t) => t.outcome === 'failed' || t.outcome === 'interrupted' || t.outcome === 'blocked')
    .map((t) => ({
      time: t.time,
      id: t.item ?? '',
      phase: t.phase,
      outcome: t.outcome ?? '',
      attempt: t.attempt,
      reason: reason(t),
    }));
  const reviewLoops = transitions
    .filter((t) => t.outcome === 'rejected')
    .map((t): ReviewLoop => {
      const m = /-> (\S+) \(rejected(?:, round (\d+))?\)/.exec(t.subject);
      const round = m?.[2] === undefined ? null : Number(m[2]);
      return {
        time: t.time,
        id: t.item ?? '',
        phase: t.phase,
        backTo: m?.[1] ?? null,
        round,
        by: t.agent === null ? 'person' : 'agent',
        reason: reason(t),
      };
    });
  const parked = transitions
    .filter((t) => t.outcome === 'parked')
    .map((t) => {
      const m = /parked until (\S+)/.exec(t.subject);
      return { time: t.time, id: t.item ?? '', phase: t.phase, until: m?.[1] ?? null, reason: reason(t) };
    });
  return { failures, retried: retried(transitions), reviewLoops, parked };
}

/** Phases of an item that failed at least once in the window, with how that phase stands at its end. */
function retried(transitions: LoggedTransition[]): Retried[] {
  const byPhase = new Map<string, Retried>();
  for (const t of transitions) {
    if (t.item === null || t.phase === null || t.agent === null) continue;
    const key = `${t.item}\0${t.phase}`;
    const seen = byPhase.get(key) ?? { id: t.item, phase: t.phase, failed: 0, latest: '' };
    if (t.outcome === 'failed' || t.outcome === 'interrupted') seen.failed++;
    seen.latest = t.outcome ?? '';
    byPhase.set(key, seen);
  }
  return [...byPhase.values()].filter((r) => r.failed > 0);
}

// ---- time ----

/** A transition of an agent's run (a phase attempt), which carries its duration. */
function isRun(t: LoggedTransition): boolean {
  return t.agent !== null && t.phase !== null && t.durationSeconds !== null;
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  if (sorted.length === 0) return 0;
  return sorted.length % 2 === 1 ? (sorted[mid] ?? 0) : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2;
}

function timeSpent(transitions: LoggedTransition[], concurrency: number | null): Report['time'] {
  const runs = transitions.filter(isRun);
  const phases = new Map<string, LoggedTransition[]>();
  for (const r of runs) phases.set(r.phase ?? '', [...(phases.get(r.phase ?? '') ?? []), r]);
  const phaseTimes = [...phases.entries()].map(([phase, list]): PhaseTime => {
    const longest = list.reduce((a, b) => ((b.durationSeconds ?? 0) > (a.durationSeconds ?? 0) ? b : a));
    return {
      phase,
      runs: list.length,
      medianSeconds: median(list.map((r) => r.durationSeconds ?? 0)),
      longestSeconds: longest.durationSeconds ?? 0,
      longestItem: longest.item ?? '',
    };
  });
  const first = transitions[0];
  const last = transitions.at(-1);
  const makespanSeconds = first && last ? Math.round((timeOf(last) - timeOf(first)) / 1000) : 0;
  const busySeconds = runs.reduce((s, r) => s + (r.durationSeconds ?? 0), 0);
  const capacity = concurrency === null ? 0 : makespanSeconds * concurrency;
  const busyShare = capacity > 0 ? Math.round((busySeconds / capacity) * 1000) / 1000 : null;
  return { phases: phaseTimes, makespanSeconds, busySeconds, concurrency, busyShare };
}

// ---- money ----

/** What a transition cost: a known figure, unknown (an agent ran and reported none), or nothing (no run). */
function costOf(t: LoggedTransition): { micros: number } | 'unknown' | undefined {
  if (t.costUsd !== null) return { micros: Math.round(t.costUsd * 1e6) };
  if (t.costUnknown || t.malformed.includes('Tend-Cost-USD')) return 'unknown';
  return isRun(t) ? 'unknown' : undefined;
}

/** Known dollars (added in whole micro-dollars, so many cents add up exactly) and unknown runs. */
export function sum(transitions: LoggedTransition[]): Money {
  let micros = 0;
  let unknown = 0;
  let runs = 0;
  for (const t of transitions) {
    const cost = costOf(t);
    if (cost === undefined) continue;
    runs++;
    if (cost === 'unknown') unknown++;
    else micros += cost.micros;
  }
  return { knownUsd: micros / 1e6, unknown, runs };
}

function linesBy(transitions: LoggedTransition[], key: (t: LoggedTransition) => string | null): MoneyLine[] {
  const groups = new Map<string, LoggedTransition[]>();
  for (const t of transitions) {
    const k = key(t);
    if (k === null || costOf(t) === undefined) continue;
    groups.set(k, [...(groups.get(k) ?? []), t]);
  }
  return [...groups.entries()]
    .map(([k, list]) => ({ key: k, ...sum(list) }))
    .sort((a, b) => b.knownUsd - a.knownUsd || b.unknown - a.unknown || a.key.localeCompare(b.key));
}

function money(transitions: LoggedTransition[]): Report['money'] {
  return {
    total: sum(transitions),
    items: linesBy(transitions, (t) => t.item),
    phases: linesBy(transitions, (t) => t.phase),
    agents: linesBy(transitions, (t) => (t.agent === null ? null : t.model ? `${t.agent} (${t.model})` : t.agent)),
  };
}

/** `$1.23`, `$1.23 + unknown (2 runs)`, or `unknown`: a cost nobody reported is never $0. */
export function formatMoney(m: Money): string {
  const known = `$${m.knownUsd.toFixed(2)}`;
  if (m.unknown === 0) return known;
  const runs = `${m.unknown} run${m.unknown === 1 ? '' : 's'}`;
  return m.knownUsd === 0 ? `unknown (${runs})` : `${known} + unknown (${runs})`;
}
