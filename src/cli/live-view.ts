// The live view of `tend run` in a terminal: what each running agent is doing, the board's
// counts, and the last transitions, redrawn in place at the bottom of the screen. Warnings and
// transitions scroll above it, so the terminal's scrollback still holds the whole night.
import { formatDuration } from '../core/duration.js';
import type { Reporter } from '../engine/runner.js';
import { clean, paint, type Style } from './output.js';
import type { Transition } from '../core/transition.js';
import type { SyncStatus } from '../edges/remote.js';
import { syncLine } from './sync-line.js';

interface Running {
  phase: string;
  attempt: string;
  started: number;
  activity: string;
}

const REDRAW_MS = 250;
const RECENT = 6;

/** A piece of a screen row and its style; rows are cut by visible width before they are painted. */
type Segment = readonly [Style | undefined, string];

/**
 * One screen row: every piece cleaned of control characters (agent output may hold escape
 * sequences), the row cut to `width` visible characters with an ellipsis, then painted, so a
 * cut never splits or exposes a colour code.
 */
export function paintRow(segments: Segment[], width: number, c: ReturnType<typeof paint>): string {
  const pieces = segments.map(([style, text]) => [style, [...clean(text)]] as const);
  const total = pieces.reduce((n, [, chars]) => n + chars.length, 0);
  let room = total <= width ? total : Math.max(0, width - 1);
  const out: string[] = [];
  for (const [style, chars] of pieces) {
    const text = chars.slice(0, room).join('');
    room -= Math.min(room, chars.length);
    if (text) out.push(style ? c(style, text) : text);
  }
  return `${out.join('')}${total > width ? '…' : ''}`;
}

function outcomeColor(outcome: string): Style {
  if (outcome === 'blocked' || outcome === 'failed') return 'red';
  if (outcome === 'waiting' || outcome === 'parked') return 'yellow';
  return outcome === 'claimed' ? 'dim' : 'green';
}

function transitionSegments(t: Transition): Segment[] {
  const cost = t.costUnknown ? 'cost unknown' : t.costUsd !== undefined ? `$${t.costUsd.toFixed(2)}` : undefined;
  const duration = t.durationMs !== undefined ? formatDuration(t.durationMs) : undefined;
  const details = [t.agent, duration, cost].filter(Boolean).join(', ');
  const time = new Date().toTimeString().slice(0, 8);
  const segments: Segment[] = [
    ['dim', time],
    [undefined, ` ${t.id} `],
    [outcomeColor(t.outcome), t.summary],
  ];
  return details ? [...segments, ['dim', `  (${details})`]] : segments;
}

function runningRow(id: string, r: Running): Segment[] {
  const state = `  ${r.phase} #${r.attempt}  ${formatDuration(Date.now() - r.started)}  `;
  return [
    [undefined, '  '],
    ['cyan', id],
    [undefined, state],
    ['dim', r.activity],
  ];
}

export function transitionLine(t: Transition, c: ReturnType<typeof paint>): string {
  return paintRow(transitionSegments(t), Infinity, c);
}

/** What the view shows, updated by the reporter's calls and drawn by a timer. */
interface LiveState {
  running: Map<string, Running>;
  recent: Segment[][];
  counts: Record<string, number>;
  transitions: number;
  cost: number;
  started: number;
  /** Where the clone stands against its remote, as the last sync left it. */
  sync?: SyncStatus;
}

/** A row for a sync that is failing (offline): the clone is ahead of its remote, since when, and why. */
function syncRows(sync: SyncStatus | undefined): Segment[][] {
  if (!sync?.ahead || !sync.lastError) return [];
  return [
    [
      [undefined, '  '],
      ['yellow', syncLine(sync, sync.ahead)],
    ],
  ];
}

function screenRows(s: LiveState): Segment[][] {
  const elapsed = formatDuration(Date.now() - s.started);
  const totals = `${s.transitions} transitions · $${s.cost.toFixed(2)} · ${elapsed}`;
  const header = `tend run · ${s.running.size} running · ${totals}`;
  const nonEmpty = Object.entries(s.counts).filter(([, n]) => n > 0);
  const board = nonEmpty.map(([where, n]) => `${where} ${n}`).join(' · ') || 'backlog empty';
  return [
    [['bold', header]],
    ...[...s.running].map(([id, r]) => runningRow(id, r)),
    [[undefined, `  ${board}`]],
    ...syncRows(s.sync),
    ...s.recent.map((segments): Segment[] => [[undefined, '  '], ...segments]),
  ];
}

function record(s: LiveState, t: Transition): void {
  s.transitions += 1;
  s.cost += t.costUsd ?? 0;
  if (t.outcome === 'claimed') {
    s.running.set(t.id, {
      phase: t.phase ?? '',
      attempt: /attempt (\d+)/.exec(t.summary)?.[1] ?? '?',
      started: Date.now(),
      activity: 'working',
    });
  } else {
    s.running.delete(t.id);
  }
  s.recent.push(transitionSegments(t));
  if (s.recent.length > RECENT) s.recent.shift();
}

export function liveView(stream: NodeJS.WriteStream): Reporter & { close(): void } {
  const c = paint(stream);
  const state: LiveState = { running: new Map(), recent: [], counts: {}, transitions: 0, cost: 0, started: Date.now() };
  let drawn = 0;

  const clear = () => {
    if (drawn > 0) stream.write(`\x1b[${drawn}A\x1b[J`);
    drawn = 0;
  };
  const draw = () => {
    const width = Math.max(40, (stream.columns || 100) - 1);
    const lines = screenRows(state).map((segments) => paintRow(segments, width, c));
    clear();
    stream.write(`${lines.join('\n')}\n`);
    drawn = lines.length;
  };
  const timer = setInterval(draw, REDRAW_MS);
  timer.unref();

  return {
    transition(t) {
      record(state, t);
      draw();
    },
    info(message) {
      clear();
      stream.write(`${message}\n`);
      draw();
    },
    warn(message) {
      clear();
      process.stderr.write(`${c('yellow', 'warning')}: ${message}\n`);
      draw();
    },
    activity(id, _phase, lens, line) {
      const r = state.running.get(id);
      if (r) r.activity = `${lens ? `(${lens}) ` : ''}${line}`;
    },
    board(next) {
      state.counts = next;
    },
    sync(status) {
      state.sync = status;
      draw();
    },
    close() {
      clearInterval(timer);
      clear();
    },
  };
}
