// Which frontmatter keys of an item the engine owns, in one place: the merge driver gives them to
// the engine's side of a merge, and tend puts them back when an agent (or, for some, a person)
// edits them. Every other key belongs to the person.

/**
 * For each key the engine writes:
 * - `together`: a key of where the item's work stands. In a merge where both sides moved any of
 *   these, all of them come from the side further along, so `status` never comes from one side
 *   and `owner` from the other. The others (a pull request, stale marks) are merged one by one:
 *   a change on one side only is taken, a change on both goes to the side further along.
 * - `putBack`: `always` when nobody else's edit may steer the run (a person's or an agent's edit
 *   is put back); `agent` when only the item's own agent may not change it (a person may: delete
 *   the stale marks to keep the artifacts, record a pull request opened by hand); `never` when the
 *   key is left to whoever edits it after tend wrote it (a pipeline chosen by hand, a warning read
 *   and cleared).
 */
const RULES = {
  status: { together: true, putBack: 'always' },
  attempts: { together: true, putBack: 'always' },
  owner: { together: true, putBack: 'always' },
  cost_usd: { together: true, putBack: 'always' },
  loops: { together: true, putBack: 'always' },
  resume_at: { together: true, putBack: 'always' },
  blocked_reason: { together: true, putBack: 'always' },
  blocked_phase: { together: true, putBack: 'always' },
  branch: { together: true, putBack: 'always' },
  limit_waits: { together: true, putBack: 'always' },
  pipeline: { together: true, putBack: 'never' },
  limited_by: { together: true, putBack: 'never' },
  feedback: { together: true, putBack: 'never' },
  warning: { together: true, putBack: 'never' },
  pr: { together: false, putBack: 'agent' },
  stale: { together: false, putBack: 'agent' },
  stale_source: { together: false, putBack: 'agent' },
} as const satisfies Record<string, { together: boolean; putBack: 'always' | 'agent' | 'never' }>;

export type EngineKey = keyof typeof RULES;

/** Every key the engine owns: in a merge, a change made on both sides goes to the engine's side. */
export const ENGINE_KEYS = Object.keys(RULES) as EngineKey[];

/** The keys of where an item's work stands, which a merge takes together from one side. */
export const PROGRESS_KEYS = ENGINE_KEYS.filter((k) => RULES[k].together);

/** Keys put back when the item's own agent edits them while its phase runs. */
export const KEPT_FROM_AGENTS = ENGINE_KEYS.filter((k) => RULES[k].putBack !== 'never');

/** Keys put back when anyone else (a person, another item's agent) edits them in an item no agent works on. */
export const KEPT_FROM_EVERYONE = ENGINE_KEYS.filter((k) => RULES[k].putBack === 'always');

/** A key the engine writes (the engine's side takes it in a merge), as against one a person owns. */
export function engineOwned(key: string): boolean {
  return Object.hasOwn(RULES, key);
}

/** A key that moves with the item's progress (see `together`). */
export function progressKey(key: string): boolean {
  return engineOwned(key) && RULES[key as EngineKey].together;
}
