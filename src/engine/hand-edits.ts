// Changes a human made under backlog/ (an edited item.md, a folder moved to another phase, a
// folder deleted), found as what git sees uncommitted: tend commits everything it writes, so
// anything left over outside the items tend is working on came from someone else.
import { readDoneItems, readItemFile } from '../edges/store.js';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { BACKLOG_DIR, DONE, INBOX, type Item, type Snapshot } from '../core/backlog.js';
import type { HandChange } from '../core/decide.js';
import { readYaml, splitFrontmatter } from '../core/frontmatter.js';
import { git } from '../edges/git.js';
import { slugify } from '../core/slug.js';

/**
 * Paths git reports as changed under backlog/, from `git status --porcelain -z`. `withDone`:
 * false leaves backlog/done/ out. git walks every folder its pathspec reaches for untracked files,
 * and even an exclude pathspec does not stop the walk (200 ms of each 220 ms at 10,000 finished
 * items), so the scan names the other top-level entries one by one instead.
 */
export async function changedBacklogPaths(
  root: string,
  withDone = true,
): Promise<{ path: string; deleted: boolean }[]> {
  const scope = withDone ? [`${BACKLOG_DIR}/`] : await backlogOutsideDone(root);
  if (scope.length === 0) return [];
  const result = await git(root, [
    '--no-optional-locks',
    'status',
    '--porcelain=v1',
    '-z',
    '--untracked-files=all',
    '--no-renames',
    '--',
    ...scope,
  ]);
  if (result.exitCode !== 0) return [];
  return result.stdout
    .split('\0')
    .filter((entry) => entry.length > 3)
    .map((entry) => ({ path: entry.slice(3), deleted: entry[0] === 'D' || entry[1] === 'D' }));
}

/**
 * Literal pathspecs for backlog/'s top-level entries but done/: those on disk, and those the last
 * commit has (an inbox file or a folder deleted since).
 */
async function backlogOutsideDone(root: string): Promise<string[]> {
  const onDisk = await readdir(path.join(root, BACKLOG_DIR)).catch(() => [] as string[]);
  const committed = await git(root, ['ls-tree', '-z', '--name-only', 'HEAD', `${BACKLOG_DIR}/`]);
  const inHead = committed.exitCode === 0 ? committed.stdout.split('\0').filter(Boolean) : [];
  const names = new Set([...onDisk, ...inHead.map((file) => file.slice(BACKLOG_DIR.length + 1))]);
  names.delete(DONE);
  return [...names].filter(Boolean).map((name) => `:(literal)${BACKLOG_DIR}/${name}`);
}

/**
 * `backlog/<location>/<id>/...` -> { location, id, name }; `name` is the file's name when it lies
 * directly in the item folder. Inbox files and stray files -> undefined.
 */
function itemOf(file: string): { location: string; id: string; name?: string } | undefined {
  const parts = file.split('/');
  if (parts[0] !== BACKLOG_DIR || parts.length < 4) return undefined;
  return { location: parts[1] ?? '', id: parts[2] ?? '', ...(parts.length === 4 ? { name: parts[3] } : {}) };
}

interface ChangedPath {
  location: string;
  deleted: boolean;
  name?: string;
}

function describeValue(v: unknown): string {
  return v === undefined ? '(none)' : typeof v === 'string' ? v : JSON.stringify(v);
}

/** "priority 3 -> 1, approved -> true": the frontmatter keys that differ. Pure. */
export function frontmatterChanges(before: Record<string, unknown>, after: Record<string, unknown>): string {
  const keys = [...new Set([...Object.keys(before), ...Object.keys(after)])];
  const changed = keys.filter((k) => JSON.stringify(before[k]) !== JSON.stringify(after[k]));
  return changed
    .map((k) =>
      before[k] === undefined
        ? `${k} -> ${describeValue(after[k])}`
        : after[k] === undefined
          ? `${k} removed`
          : `${k} ${describeValue(before[k])} -> ${describeValue(after[k])}`,
    )
    .join(', ');
}

/** The frontmatter of `file` as last committed, or undefined when it never was. */
export async function committedData(root: string, file: string): Promise<Record<string, unknown> | undefined> {
  const shown = await git(root, ['show', `HEAD:${file}`]);
  if (shown.exitCode !== 0) return undefined;
  const split = splitFrontmatter(shown.stdout);
  return 'value' in split ? readYaml(split.value).data : {};
}

/**
 * Human changes to items tend is not working on right now. Invalid items wait until fixed.
 * `withDone`: whether to look inside backlog/done/ too (see changedBacklogPaths).
 */
export async function findHandChanges(
  root: string,
  snapshot: Snapshot,
  active: ReadonlySet<string>,
  withDone = true,
): Promise<HandChange[]> {
  const byId = new Map<string, ChangedPath[]>();
  const changes: HandChange[] = [];
  const invalid = new Set(snapshot.invalid.flatMap((i) => (i.id ? [i.id] : [])));
  for (const change of await changedBacklogPaths(root, withDone)) {
    // Inside an entry the scan found invalid (a folder that is no phase, a symlink): left
    // untouched until fixed, as the warning says, and so is an item of the same id elsewhere.
    if (snapshot.invalid.some((i) => change.path === i.path || change.path.startsWith(`${i.path}/`))) {
      const at = itemOf(change.path);
      if (at) invalid.add(at.id);
      continue;
    }
    // A committed inbox file that is gone: removed by a human, or taken in by a run that was
    // killed before it could commit. Either way the deletion is recorded.
    if (change.deleted && /^backlog\/[^/]+\.md$/i.test(change.path)) {
      const stem = change.path.slice(BACKLOG_DIR.length + 1, -3);
      changes.push({
        id: slugify(stem) || stem,
        kind: 'removed',
        from: [INBOX],
        summary: `inbox file ${change.path} removed`,
        paths: [change.path],
      });
      continue;
    }
    const at = itemOf(change.path);
    if (!at || active.has(at.id)) continue;
    const path: ChangedPath = { location: at.location, deleted: change.deleted, name: at.name };
    byId.set(at.id, [...(byId.get(at.id) ?? []), path]);
  }
  for (const [id, paths] of byId) {
    if (invalid.has(id)) continue;
    const now = await itemNow(root, snapshot, id);
    if (now === 'invalid') continue;
    const change = await itemChange(root, now, id, paths);
    if (change) changes.push(change);
  }
  return changes;
}

/**
 * Where item `id` is now, outside the inbox. The snapshot knows done/'s items by id only, so one
 * there is read from its files now; found invalid, it waits until it is fixed, as any invalid item
 * does (and one gone meanwhile is looked at again on the next read).
 */
async function itemNow(root: string, snapshot: Snapshot, id: string): Promise<Item | undefined | 'invalid'> {
  const item = snapshot.items.find((i) => i.id === id && i.location !== INBOX);
  if (item || !snapshot.done.has(id)) return item;
  return (await readDoneItems(root, [id])).items[0] ?? 'invalid';
}

/**
 * What happened to item `id` (`item`: where it is now), from its changed paths; undefined when
 * it is gone since the scan.
 */
async function itemChange(
  root: string,
  item: Item | undefined,
  id: string,
  paths: ChangedPath[],
): Promise<HandChange | undefined> {
  // The item's folders that changed, and where it is now: literal paths, since a pattern such
  // as backlog/*/<id>/** makes git walk every folder under backlog/, done/ included.
  const locations = new Set([...paths.map((p) => p.location), ...(item ? [item.location] : [])]);
  const folders = [...locations].map((location) => `${BACKLOG_DIR}/${location}/${id}`);
  const from = [...new Set(paths.filter((p) => p.deleted && p.location !== item?.location).map((p) => p.location))];
  if (!item) {
    const summary = `removed by hand from ${from.join(', ') || 'backlog'}`;
    return { id, kind: 'removed', from, summary, paths: folders };
  }
  if (from.length > 0) {
    const summary = `moved by hand: ${from.join(', ')} -> ${item.location}`;
    return { id, kind: 'moved', item, from, summary, paths: folders };
  }
  const before = await committedData(root, item.file);
  // Gone since the scan (moved again, or removed): looked at again on the next read.
  const now = await readItemFile(root, item.file, item.id).catch(() => undefined);
  if (!now) return undefined;
  const edits = before && 'parsed' in now ? frontmatterChanges(before, now.parsed.data) : '';
  const summary = before ? `edited by hand${edits ? ` (${edits})` : ''}` : `added in ${item.location}/ by hand`;
  // The files changed beside item.md, as they are now: an artifact edited by hand may make later ones stale.
  const files = paths.flatMap((p) => (p.location === item.location && !p.deleted && p.name ? [p.name] : []));
  return { id, kind: 'edited', item, from, summary, paths: folders, files };
}
