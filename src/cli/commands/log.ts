// `tend log`: the transitions read back from git history, newest first, with a total. It needs
// only a clone: no configuration, no backlog, no run.
import { formatDuration } from '../../core/duration.js';
import { logTotals, transitionsFrom, type LoggedTransition, type LogTotals } from '../../core/transition-log.js';
import { transitionCommits, type LogQuery } from '../../edges/history.js';
import { clean, paint, printJson, table, type Style } from '../output.js';

export interface LogOptions extends LogQuery {
  json: boolean;
}

export async function log(cwd: string, options: LogOptions): Promise<void> {
  const records = await transitionCommits(cwd, options);
  const transitions = transitionsFrom(records, { id: options.id, outcomes: options.outcomes });
  if (options.json) {
    printJson(transitions);
    return;
  }
  // Nothing in the window: nothing printed, as `git log` does.
  if (transitions.length === 0) return;
  const c = paint(process.stdout);
  const header = ['time', 'item', 'phase', 'outcome', 'agent', 'duration', 'cost', 'attempt'].map((h) => c('dim', h));
  const rows = transitions.map((t) => row(t, c));
  process.stdout.write(`${table([header, ...rows])}\n${totalLine(logTotals(transitions))}\n`);
}

type Painter = (style: Style, text: string) => string;

const OUTCOME_STYLE: Partial<Record<string, Style>> = {
  done: 'green',
  approved: 'green',
  failed: 'red',
  blocked: 'red',
  rejected: 'red',
  interrupted: 'red',
  waiting: 'yellow',
  parked: 'yellow',
};

function row(t: LoggedTransition, c: Painter): string[] {
  const shown = (key: string, value: string | undefined): string => {
    if (t.malformed.includes(key)) {
      const raw = trailer(t, key);
      return c('red', raw === undefined ? 'missing (malformed)' : `${clean(raw)} (malformed)`);
    }
    return value === undefined ? c('dim', '-') : clean(value);
  };
  const outcome = shown('Tend-Outcome', t.outcome ?? undefined);
  const style = t.outcome === null ? undefined : OUTCOME_STYLE[t.outcome];
  return [
    localTime(t.time),
    t.item === null ? c('dim', '-') : clean(t.item),
    t.phase === null ? c('dim', '-') : clean(t.phase),
    style && !t.malformed.includes('Tend-Outcome') ? c(style, outcome) : outcome,
    t.agent === null ? c('dim', '-') : clean(t.model === null ? t.agent : `${t.agent} (${t.model})`),
    shown('Tend-Duration', t.durationSeconds === null ? undefined : seconds(t.durationSeconds)),
    shown('Tend-Cost-USD', t.costUnknown ? 'unknown' : t.costUsd === null ? undefined : `$${t.costUsd.toFixed(2)}`),
    shown('Tend-Attempt', t.attempt === null ? undefined : String(t.attempt)),
  ];
}

/** As the trailer counts it, in whole seconds: `0s`, `45s`, `1m34s`. */
function seconds(s: number): string {
  return s < 1 ? '0s' : formatDuration(s * 1000);
}

/** A trailer's value as written, whatever the case of its key. */
function trailer(t: LoggedTransition, key: string): string | undefined {
  const found = Object.keys(t.trailers).filter((k) => k.toLowerCase() === key.toLowerCase());
  const last = found[found.length - 1];
  return last === undefined ? undefined : t.trailers[last];
}

/** `2026-12-01 09:30` in this machine's time zone (TZ); the JSON keeps the commit's own ISO date. */
function localTime(iso: string): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return clean(iso);
  const two = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${two(d.getMonth() + 1)}-${two(d.getDate())} ${two(d.getHours())}:${two(d.getMinutes())}`;
}

function totalLine(totals: LogTotals): string {
  const parts = [
    `${totals.count} transition${totals.count === 1 ? '' : 's'}`,
    `$${totals.knownUsd.toFixed(2)} known cost`,
    `${totals.unknown} with cost unknown`,
  ];
  if (totals.malformedCost > 0) parts.push(`${totals.malformedCost} with a malformed cost`);
  return `total: ${parts.join(', ')}`;
}
