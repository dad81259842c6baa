// A three-way merge of item.md, key by key, for git's merge driver (`tend merge-driver`): two
// clones that changed the same item (a priority on the laptop, phase progress on a server) merge
// without a conflict, and no side is dropped. Pure: the body is merged as text by the caller
// (`git merge-file`), which hands the result back to `finish`.
//
// Who owns a key decides which side wins when both sides changed it differently:
//
// - a person owns `title`, `priority`, `labels`, `depends_on`, `approved`, `created`, the body,
//   and any key tend does not know: the person's side wins;
// - the engine owns the keys of ENGINE_KEYS (engine-keys.ts): the side further along wins.
//
// The phase is the item's folder: a move on one side and an edit on the other is git's rename
// detection, which hands the moved file to this merge. The keys of the item's progress (`status`,
// `owner`, ...: PROGRESS_KEYS) move together: when both sides changed any of them, all of them are
// taken from the side further along, so `status` never comes from one side and `owner` from the
// other; the engine's other keys (`pr`, `stale`) merge one by one. *Further along* compares, in order: `cost_usd` (it
// only grows over an item's life), `loops`, `attempts`, then status (running > failed > waiting >
// queued); a full tie keeps `ours` (%A). The person's side is the other one: the side whose engine
// keys did not change (the laptop), or, when both or neither changed them, the side that is not
// further along (when neither did, `ours`).
import { isDeepStrictEqual } from 'node:util';
import { engineOwned, PROGRESS_KEYS, progressKey } from './engine-keys.js';
import { joinFrontmatter, readYaml, setFields, splitFrontmatter, type Frontmatter } from './frontmatter.js';

type Side = 'ours' | 'theirs';
type Data = Record<string, unknown>;

/** The three bodies for the caller to merge as text, and how to put the result together. */
export interface ItemMergePlan {
  kind: 'keys';
  bodies: { base: string; ours: string; theirs: string };
  /** Which side the engine keys came from, for the record. */
  engineFrom: Side;
  /** The merged file, given the merged body. */
  finish: (body: string) => string;
}

/** A side that is not an item with readable frontmatter: the caller merges the whole text instead. */
export interface TextMergePlan {
  kind: 'text';
}

interface Side3 {
  fm: Frontmatter;
  data: Data;
}

function parse(text: string): Side3 | undefined {
  const split = splitFrontmatter(text);
  if (!('value' in split)) return undefined;
  const yaml = readYaml(split.value);
  return yaml.problems.length > 0 ? undefined : { fm: split.value, data: yaml.data };
}

const STATUS_RANK: Record<string, number> = { queued: 0, waiting: 1, failed: 2, running: 3 };

function num(value: unknown): number {
  return typeof value === 'number' && Number.isFinite(value) ? value : 0;
}

/** How far along an item's engine keys are, compared in order (see the table above). */
function progress(data: Data): number[] {
  return [num(data.cost_usd), num(data.loops), num(data.attempts), STATUS_RANK[String(data.status)] ?? 0];
}

/** 1 when `a` is further along than `b`, -1 when behind, 0 for a tie. */
export function compareProgress(a: Data, b: Data): number {
  const pa = progress(a);
  const pb = progress(b);
  for (let i = 0; i < pa.length; i++) {
    if ((pa[i] ?? 0) !== (pb[i] ?? 0)) return (pa[i] ?? 0) > (pb[i] ?? 0) ? 1 : -1;
  }
  return 0;
}

function changedEngine(base: Data, side: Data): boolean {
  return PROGRESS_KEYS.some((k) => !isDeepStrictEqual(base[k], side[k]));
}

/** Which side the engine keys come from, and which side is the person's. */
function winners(base: Data, ours: Data, theirs: Data): { engine: Side; person: Side } {
  const oursMoved = changedEngine(base, ours);
  const theirsMoved = changedEngine(base, theirs);
  if (oursMoved !== theirsMoved) {
    const engine: Side = oursMoved ? 'ours' : 'theirs';
    return { engine, person: engine === 'ours' ? 'theirs' : 'ours' };
  }
  if (!oursMoved) return { engine: 'ours', person: 'ours' };
  const engine: Side = compareProgress(theirs, ours) > 0 ? 'theirs' : 'ours';
  return { engine, person: engine === 'ours' ? 'theirs' : 'ours' };
}

/**
 * The merged frontmatter data: per key, a side's change wins over an unchanged key; both changed
 * (differently) goes to the key's owner. Engine keys come as one group when both sides moved.
 * `undefined` means the key is absent.
 */
export function mergeData(base: Data, ours: Data, theirs: Data): { data: Data; engineFrom: Side } {
  const { engine, person } = winners(base, ours, theirs);
  const bothMoved = changedEngine(base, ours) && changedEngine(base, theirs);
  const pick = { ours, theirs };
  const data: Data = {};
  const keys = new Set([...Object.keys(base), ...Object.keys(ours), ...Object.keys(theirs)]);
  for (const key of keys) {
    const [b, o, t] = [base[key], ours[key], theirs[key]];
    let value: unknown;
    if (progressKey(key) && bothMoved) value = pick[engine][key];
    else if (isDeepStrictEqual(o, t) || isDeepStrictEqual(b, t)) value = o;
    else if (isDeepStrictEqual(b, o)) value = t;
    else value = pick[engineOwned(key) ? engine : person][key];
    if (value !== undefined) data[key] = value;
  }
  return { data, engineFrom: engine };
}

/**
 * Plan the merge of three versions of an item file (base, ours = %A, theirs = %B). The
 * frontmatter of the side the engine keys come from is the starting text, so its comments and
 * key order stay; only keys whose merged value differs from it are rewritten.
 */
export function planItemMerge(base: string, ours: string, theirs: string): ItemMergePlan | TextMergePlan {
  const [b, o, t] = [parse(base), parse(ours), parse(theirs)];
  if (!b || !o || !t) return { kind: 'text' };
  const { data, engineFrom } = mergeData(b.data, o.data, t.data);
  const start = engineFrom === 'ours' ? o : t;
  const changes: Data = {};
  for (const key of new Set([...Object.keys(start.data), ...Object.keys(data)])) {
    if (!isDeepStrictEqual(start.data[key], data[key])) changes[key] = data[key];
  }
  const fm = Object.keys(changes).length > 0 || !start.fm.present ? setFields(start.fm, changes) : start.fm;
  const noFrontmatter = !o.fm.present && !t.fm.present && Object.keys(data).length === 0;
  return {
    kind: 'keys',
    bodies: { base: b.fm.body, ours: o.fm.body, theirs: t.fm.body },
    engineFrom,
    finish: (body) => (noFrontmatter ? joinFrontmatter({ ...o.fm, body }) : joinFrontmatter({ ...fm, body })),
  };
}
