// Commit messages for transitions: a readable subject and trailers that `git log
// --format=%(trailers)` can parse (the README, "Transitions are commits").

/**
 * What a transition did, as its `Tend-Outcome` trailer says it (the README lists them). A phase
 * ends `done`, `failed`, `blocked`, `waiting`, `parked` or `interrupted`; a run also takes items
 * in (`intake`), claims them (`claimed`) and gives them back (`requeued`); a person approves,
 * rejects or retries; `tend pr` records a pull request (`pr`); changes made by hand are `edited`,
 * `moved` or `removed`, and an earlier phase's artifact edited by hand marks the later ones `stale`
 * until `tend redo` (`redo`) reruns them; an id another clone took first is `renamed` at a sync; a
 * claim whose lease ran out is `taken-over`.
 */
export const OUTCOMES = [
  'init',
  'added',
  'intake',
  'claimed',
  'done',
  'failed',
  'blocked',
  'waiting',
  'approved',
  'rejected',
  'parked',
  'interrupted',
  'requeued',
  'retry',
  'pr',
  'edited',
  'moved',
  'removed',
  'stale',
  'redo',
  'renamed',
  'taken-over',
] as const;

export type Outcome = (typeof OUTCOMES)[number];

export interface Transition {
  id: string;
  /** What happened, after the id: e.g. `added`, `prd -> tech-research`. */
  summary: string;
  phase?: string;
  outcome: Outcome;
  agent?: string;
  durationMs?: number;
  costUsd?: number;
  /** The agent reported no cost: the trailer says `unknown` rather than a figure. */
  costUnknown?: boolean;
  /** Extra trailers, e.g. `{ 'Tend-Reason': '...' }`. */
  extra?: Record<string, string>;
}

/** `tend init` commits the set-up, which belongs to no item: the outcome trailer alone. */
export const INIT_MESSAGE = 'tend: init\n\nTend-Outcome: init\n';

export function commitMessage(t: Transition): string {
  const trailers: [string, string | undefined][] = [
    ['Tend-Item', t.id],
    ['Tend-Phase', t.phase],
    ['Tend-Outcome', t.outcome],
    ['Tend-Agent', t.agent],
    ['Tend-Duration', t.durationMs === undefined ? undefined : `${Math.round(t.durationMs / 1000)}s`],
    ['Tend-Cost-USD', t.costUnknown ? 'unknown' : t.costUsd?.toFixed(2)],
    ...Object.entries(t.extra ?? {}),
  ];
  const lines = trailers
    .filter((entry): entry is [string, string] => entry[1] !== undefined)
    .map(([k, v]) => `${k}: ${v.replace(/\s+/g, ' ').trim()}`);
  // One line: a newline in the summary would start the body and could forge trailers.
  return `tend: ${t.id} ${t.summary.replace(/\s+/g, ' ').trim()}\n\n${lines.join('\n')}\n`;
}
