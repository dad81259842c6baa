// Reads backlog/ from disk and writes item files. It never follows a symlink, never rewrites a
// file it cannot parse, and reports each bad entry with the reason instead of giving up.
import { lstat, mkdir, open, readdir, rename } from 'node:fs/promises';
import type { Dirent } from 'node:fs';
import path from 'node:path';
import { parseItem, serializeItem, type ItemFields, type ParsedItem } from '../core/item.js';
import {
  BACKLOG_DIR,
  BLOCKED,
  DONE,
  INBOX,
  ITEM_FILE,
  MAX_ITEM_BYTES,
  type InvalidEntry,
  type Item,
  type Snapshot,
} from '../core/backlog.js';
import { TendError, type Problem } from '../core/problem.js';
import { isValidId, slugify, uniqueId } from '../core/slug.js';
import { STATE_DIR } from './state-dir.js';

type Read = { item: Item } | { invalid: InvalidEntry } | { vanished: true };

/** An entry that disappeared while it was being read (moved or deleted meanwhile). */
function vanished(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException).code;
  return code === 'ENOENT' || code === 'ENOTDIR';
}

/** A file or folder tend may not read (its permissions say so): one invalid entry, not a failed run. */
function unreadable(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException).code;
  return code === 'EACCES' || code === 'EPERM';
}

function unreadableProblem(rel: string, folder: boolean): Problem {
  const mode = folder ? 'u+rx' : 'u+r';
  return { file: rel, message: 'cannot be read (permission denied)', fix: `make it readable: chmod ${mode} ${rel}` };
}

/** A name readdir could only give with U+FFFD in it: its bytes are not UTF-8, so tend cannot name it back. */
function undecodableName(name: string): boolean {
  return name.includes('\uFFFD');
}

function symlinkProblem(rel: string): Problem {
  return {
    file: rel,
    message: 'is a symlink; tend does not follow symlinks in backlog/',
    fix: 'replace it with the file itself',
  };
}

/** An entry in backlog/ that is neither file, folder nor symlink: a FIFO, a socket or a device. */
function specialFileProblem(rel: string): Problem {
  return { file: rel, message: 'is not a regular file (a FIFO, socket or device)', fix: 'move it out of backlog/' };
}

function posix(...parts: string[]): string {
  return parts.join('/');
}

type FileRead = { parsed: ParsedItem; mtimeMs: number } | { problems: Problem[] };

/**
 * Parsed files by absolute path, valid while the file's identity, size and times are unchanged:
 * a long run re-reads the backlog after every transition, and most files have not changed.
 */
const readCache = new Map<string, { key: string; read: FileRead }>();

export async function readItemFile(root: string, rel: string, stem: string): Promise<FileRead> {
  const abs = path.join(root, rel);
  const before = await lstat(abs);
  if (before.isSymbolicLink()) return { problems: [symlinkProblem(rel)] };
  const key = `${before.ino}:${before.size}:${before.mtimeMs}:${before.ctimeMs}:${stem}`;
  const cached = readCache.get(abs);
  if (cached?.key === key) return cached.read;
  const read = await readItemFileNow(abs, rel, stem).catch((err: unknown) => {
    if (unreadable(err)) return { problems: [unreadableProblem(rel, false)] };
    throw err;
  });
  readCache.set(abs, { key, read });
  return read;
}

async function readItemFileNow(abs: string, rel: string, stem: string): Promise<FileRead> {
  const fail = (message: string, fix?: string) => ({ problems: [{ file: rel, message, fix }] });
  const handle = await open(abs, 'r');
  try {
    const stat = await handle.stat();
    if (stat.size > MAX_ITEM_BYTES) {
      const size = `${(stat.size / 1024 / 1024).toFixed(1)} MiB (${stat.size} bytes)`;
      return fail(
        `file is ${size}; items are limited to 1 MiB (${MAX_ITEM_BYTES} bytes)`,
        'move large content into a separate file and mention its path',
      );
    }
    const bytes = await handle.readFile();
    if (bytes.includes(0))
      return fail('binary file (contains NUL bytes), not Markdown text', 'move it out of backlog/');
    let text: string;
    try {
      text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes);
    } catch {
      return fail('not valid UTF-8 text', 're-save the file as UTF-8');
    }
    const parsed = parseItem(text, rel, stem);
    if (!parsed.item) return { problems: parsed.problems };
    return { parsed: parsed.item, mtimeMs: stat.mtimeMs };
  } finally {
    await handle.close();
  }
}

function createdMs(fields: ItemFields, mtimeMs: number): number {
  const ms = fields.created ? Date.parse(fields.created) : NaN;
  return Number.isNaN(ms) ? mtimeMs : ms;
}

/**
 * done/ only grows: a team has thousands of finished items within a year, and a run reads the
 * backlog again after every transition. So a snapshot holds done/'s ids from the folder names
 * (their files are read only when asked for), and done/ is listed again only when the folder
 * itself changed (an item folder entered or left it). A folder changed in the last STABLE_MS
 * is listed again all the same, so a file system with coarse times cannot hide a change made in
 * the same tick.
 */
const STABLE_MS = 2000;
const listings = new Map<string, { mtimeMs: number; ctimeMs: number; settled: boolean; entries: Dirent[] }>();

async function listFolder(abs: string, cached: boolean): Promise<Dirent[]> {
  if (!cached) return readdir(abs, { withFileTypes: true });
  const stat = await lstat(abs);
  const known = listings.get(abs);
  // Settled when listed: a change in the same clock tick as the listing would not move the times.
  if (known?.settled && known.mtimeMs === stat.mtimeMs && known.ctimeMs === stat.ctimeMs) return known.entries;
  const settled = Date.now() - Math.max(stat.mtimeMs, stat.ctimeMs) > STABLE_MS;
  const entries = await readdir(abs, { withFileTypes: true });
  listings.set(abs, { mtimeMs: stat.mtimeMs, ctimeMs: stat.ctimeMs, settled, entries });
  return entries;
}

async function readFolderItem(root: string, location: string, id: string): Promise<Read> {
  try {
    return await readFolderItemNow(root, location, id);
  } catch (err) {
    if (vanished(err)) return { vanished: true };
    if (unreadable(err)) {
      const dir = posix(BACKLOG_DIR, location, id);
      return { invalid: { path: dir, id, location, problems: [unreadableProblem(dir, true)] } };
    }
    throw err;
  }
}

async function readFolderItemNow(root: string, location: string, id: string): Promise<Read> {
  const dir = posix(BACKLOG_DIR, location, id);
  const file = posix(dir, ITEM_FILE);
  const invalid = (message: string, fix?: string): Read => ({
    invalid: { path: dir, id, location, problems: [{ file: dir, message, fix }] },
  });
  if (!isValidId(id)) {
    return invalid(
      'folder name is not a valid item id',
      `rename it to ${slugify(id) || 'a lowercase-name'} (lowercase letters, digits and dashes)`,
    );
  }
  const entries = await readdir(path.join(root, dir), { withFileTypes: true });
  // git does not track empty folders, so one is no item: it is what kill -9 leaves between
  // intake's mkdir and its rename, while the inbox file is still whole.
  if (entries.length === 0) return { vanished: true };
  const itemEntry = entries.find((e) => e.name === ITEM_FILE);
  if (!itemEntry)
    return invalid(
      'no item.md in the item folder',
      `restore it with \`git checkout -- ${file}\` or move the folder out of backlog/`,
    );
  const links = entries.filter((e) => e.isSymbolicLink()).map((e) => e.name);
  if (links.length > 0) {
    return { invalid: { path: dir, id, location, problems: links.map((l) => symlinkProblem(posix(dir, l))) } };
  }
  if (!itemEntry.isFile()) return invalid('item.md is not a regular file');
  const read = await readItemFile(root, file, id);
  if ('problems' in read) return { invalid: { path: file, id, location, problems: read.problems } };
  const artifacts = entries
    .filter((e) => e.isFile() && e.name !== ITEM_FILE && !e.name.startsWith('.'))
    .map((e) => e.name)
    .sort();
  return {
    item: {
      id,
      location,
      file,
      dir,
      parsed: read.parsed,
      fields: read.parsed.fields,
      artifacts,
      createdMs: createdMs(read.parsed.fields, read.mtimeMs),
    },
  };
}

/** What a walk of backlog/ found before reading any item. */
interface Walk {
  /** Item folders to read: in phase folders and blocked/, and in done/ when finished items are read. */
  folderItems: [location: string, id: string][];
  /** Ids of the item folders in done/ that are not read (ReadOptions). */
  done: string[];
  /** Whether done/'s items are read too. */
  readDone: boolean;
  /** Markdown files in backlog/ itself: the inbox. */
  inboxFiles: string[];
  invalid: InvalidEntry[];
}

/** backlog/'s entries sorted by name; undefined when there is no backlog/. */
async function listBacklog(base: string): Promise<Dirent[] | undefined> {
  try {
    const stat = await lstat(base);
    if (stat.isSymbolicLink())
      throw new TendError(
        'backlog/ is a symlink; tend only works on a real backlog/ folder',
        'replace the link with the folder itself',
      );
    const entries = await readdir(base, { withFileTypes: true });
    return entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/** One entry of backlog/: an inbox file, a folder to walk, or something reported as invalid. */
async function walkEntry(base: string, entry: Dirent, phases: ReadonlySet<string>, walk: Walk): Promise<void> {
  const rel = posix(BACKLOG_DIR, entry.name);
  if (entry.name.startsWith('.')) {
    if (isHiddenInboxFile(entry.name)) {
      walk.invalid.push({ path: rel, location: INBOX, problems: [hiddenInboxProblem(rel, entry.name)] });
    }
  } else if (undecodableName(entry.name)) {
    const fix = 'rename it to a UTF-8 name (lowercase letters, digits and dashes, ending in .md)';
    walk.invalid.push({ path: rel, problems: [{ file: rel, message: 'its name is not valid UTF-8', fix }] });
  } else if (entry.isSymbolicLink()) {
    walk.invalid.push({ path: rel, problems: [symlinkProblem(rel)] });
  } else if (entry.isFile()) {
    if (entry.name.toLowerCase().endsWith('.md')) walk.inboxFiles.push(entry.name);
  } else if (!entry.isDirectory()) {
    walk.invalid.push({ path: rel, problems: [specialFileProblem(rel)] });
  } else if (phases.has(entry.name) || entry.name === DONE || entry.name === BLOCKED) {
    await walkFolder(base, entry.name, walk);
  } else {
    const fix = `move its items to a phase folder, or add a phase named ${entry.name} to a pipeline`;
    walk.invalid.push({ path: rel, problems: [{ file: rel, message: 'is not a phase folder of any pipeline', fix }] });
  }
}

/** A phase folder, done/ or blocked/: every item folder in it, anything else reported. */
async function walkFolder(base: string, location: string, walk: Walk): Promise<void> {
  const rel = posix(BACKLOG_DIR, location);
  const children = await listFolder(path.join(base, location), location === DONE).catch((err: unknown) => {
    if (vanished(err)) return [];
    if (!unreadable(err)) throw err;
    walk.invalid.push({ path: rel, problems: [unreadableProblem(rel, true)] });
    return [];
  });
  for (const child of children) {
    if (child.name.startsWith('.')) continue;
    if (child.isDirectory() && !undecodableName(child.name)) {
      // A folder name that is no id is read, which reports it, as it reads nothing inside.
      if (location === DONE && !walk.readDone && isValidId(child.name)) walk.done.push(child.name);
      else walk.folderItems.push([location, child.name]);
    } else {
      const childRel = posix(rel, child.name);
      walk.invalid.push({ path: childRel, location, problems: [strayInPhaseFolder(child, childRel, rel)] });
    }
  }
}

/** Where an item with an id sits: an item read, or a folder in done/ known by its name. */
interface Placed {
  id: string;
  location: string;
  file: string;
}

/**
 * Items whose id another item also has are all set aside as invalid, none of them guessed at:
 * those read, and those in done/ known by their folder name only.
 */
function withoutDuplicates(items: Item[], done: string[], invalid: InvalidEntry[]): { items: Item[]; done: string[] } {
  // done/'s ids are names in one folder, each unique there: only an item read can share one.
  const itemIds = new Set(items.map((i) => i.id));
  const listed = done
    .filter((id) => itemIds.has(id))
    .map((id) => ({ id, location: DONE, file: posix(BACKLOG_DIR, DONE, id, ITEM_FILE) }));
  const duplicates = duplicateIds([...items, ...listed]);
  const keep = (entry: Placed): boolean => {
    const others = duplicates.get(entry.id);
    if (!others) return true;
    const elsewhere = others.filter((f) => f !== entry.file).join(', ');
    invalid.push({
      path: entry.file,
      id: entry.id,
      location: entry.location,
      problems: [
        {
          file: entry.file,
          message: `duplicate id ${entry.id}: also at ${elsewhere}`,
          fix: 'an item lives in one folder only: remove or rename one of them',
        },
      ],
    });
    return false;
  };
  listed.forEach(keep);
  return { items: items.filter(keep), done: listed.length === 0 ? done : done.filter((id) => !duplicates.has(id)) };
}

/** The inbox's files as items, each given an id no other item or invalid entry holds. */
async function readInbox(root: string, inboxFiles: string[], taken: Set<string>, walk: Walk): Promise<Item[]> {
  const items: Item[] = [];
  // A file already named by its id (as `tend add` writes them) claims that id before any other
  // name that merely slugs to it, so dropping in `Fix Login.md` never renames `fix-login.md`.
  const ownsItsName = (name: string) => slugify(name.slice(0, -'.md'.length)) === name.slice(0, -'.md'.length);
  inboxFiles.sort((a, b) => Number(ownsItsName(b)) - Number(ownsItsName(a)));
  for (const name of inboxFiles) {
    const rel = posix(BACKLOG_DIR, name);
    const stem = name.slice(0, -'.md'.length);
    let read: FileRead;
    try {
      read = await readItemFile(root, rel, stem);
    } catch (err) {
      if (vanished(err)) continue;
      throw err;
    }
    if ('problems' in read) {
      // Its id as it will be once fixed, so an item that depends on it waits instead of blocking.
      walk.invalid.push({ path: rel, id: slugify(stem) || undefined, location: INBOX, problems: read.problems });
      continue;
    }
    const id = uniqueId(slugify(stem) || slugify(read.parsed.fields.title) || 'item', (c) => taken.has(c));
    taken.add(id);
    const { parsed } = read;
    const createdAt = createdMs(parsed.fields, read.mtimeMs);
    items.push({ id, location: INBOX, file: rel, parsed, fields: parsed.fields, artifacts: [], createdMs: createdAt });
  }
  return items;
}

export interface ReadOptions {
  /**
   * `ids` (the default): done/ is listed and its items are known by their folder names, none of
   * their files read, so a command costs the same at 10 finished items as at 10,000, and a
   * broken file inside done/ goes unnoticed. `read`: every finished item is read and checked as
   * well (`tend status --all`, `tend doctor`).
   */
  finished?: 'ids' | 'read';
}

/**
 * Read the items under backlog/. `phases` is the set of phase folder names the pipelines
 * define; any other folder is reported, not guessed at.
 */
export async function readBacklog(
  root: string,
  phases: ReadonlySet<string>,
  options: ReadOptions = {},
): Promise<Snapshot> {
  const base = path.join(root, BACKLOG_DIR);
  const entries = await listBacklog(base);
  if (!entries) return { items: [], invalid: [], done: new Set() };
  const walk: Walk = { folderItems: [], done: [], readDone: options.finished === 'read', inboxFiles: [], invalid: [] };
  for (const entry of entries) await walkEntry(base, entry, phases, walk);
  const { invalid } = walk;
  const items: Item[] = [];
  // Read only after the walk, all at once, so no rejection is left without a handler.
  const reads = await Promise.all(walk.folderItems.map(([location, id]) => readFolderItem(root, location, id)));
  for (const read of reads) {
    if ('item' in read) items.push(read.item);
    else if ('invalid' in read) invalid.push(read.invalid);
  }
  const kept = withoutDuplicates(items, walk.done, invalid);
  const done = new Set([...kept.done, ...kept.items.filter((i) => i.location === DONE).map((i) => i.id)]);
  const invalidIds = invalid.map((i) => i.id).filter((id): id is string => !!id);
  const taken = new Set([...items.map((i) => i.id), ...walk.done, ...invalidIds]);
  kept.items.push(...(await readInbox(root, walk.inboxFiles, taken, walk)));
  return { items: kept.items, invalid, done };
}

/**
 * Finished items read in full, by id: the one `tend show` names, the latest few `tend status`
 * shows, one a person changed by hand. An id whose folder is gone is left out.
 */
export async function readDoneItems(
  root: string,
  ids: readonly string[],
): Promise<{ items: Item[]; invalid: InvalidEntry[] }> {
  const reads = await Promise.all(ids.map((id) => readFolderItem(root, DONE, id)));
  return {
    items: reads.flatMap((r) => ('item' in r ? [r.item] : [])),
    invalid: reads.flatMap((r) => ('invalid' in r ? [r.invalid] : [])),
  };
}

/**
 * A Markdown file whose name starts with a dot (`.notes.md`, `..md`): hidden, so no item, but
 * a person may well have meant one, so it is listed rather than passed over in silence. Emacs's
 * lock links (`.#name.md`) come and go while a file is edited and are left out.
 */
function isHiddenInboxFile(name: string): boolean {
  return name.toLowerCase().endsWith('.md') && !name.startsWith('.#');
}

function hiddenInboxProblem(rel: string, name: string): Problem {
  const slug = slugify(name.slice(0, -'.md'.length));
  const suggested = slug ? `${slug}.md` : 'a name such as my-item.md';
  return {
    file: rel,
    message: 'its name starts with a dot, so it is a hidden file and not taken in',
    fix: `rename it to ${suggested} to make it an item, or move it out of backlog/`,
  };
}

/** What is wrong with an entry of a phase folder that is no item folder. */
function strayInPhaseFolder(child: Dirent, childRel: string, folderRel: string): Problem {
  const fix = `items live in ${folderRel}/<id>/item.md; new items go directly in backlog/`;
  if (undecodableName(child.name)) return { file: childRel, message: 'its name is not valid UTF-8', fix };
  if (child.isSymbolicLink()) return { file: childRel, message: 'is a symlink in a phase folder', fix };
  if (child.isFile()) return { file: childRel, message: 'is a file directly in a phase folder', fix };
  return specialFileProblem(childRel);
}

function duplicateIds(items: Placed[]): Map<string, string[]> {
  const byId = new Map<string, string[]>();
  for (const item of items) byId.set(item.id, [...(byId.get(item.id) ?? []), item.file]);
  return new Map([...byId].filter(([, files]) => files.length > 1));
}

/**
 * Throw unless every folder on the way to `relDir` (repository-relative) that exists is a real
 * folder. tend writes and moves nothing through a symlink: a linked phase or item folder would
 * carry items out of the repository, where git cannot follow. Folders not there yet are fine,
 * since tend creates them as real ones.
 */
export async function refuseSymlinkedFolders(root: string, relDir: string): Promise<void> {
  let prefix = '';
  for (const part of relDir.split(/[/\\]/).filter((p) => p !== '' && p !== '.')) {
    prefix = prefix ? `${prefix}/${part}` : part;
    const stat = await lstat(path.join(root, prefix)).catch((err: unknown) => {
      if (vanished(err)) return undefined;
      throw err;
    });
    if (!stat) return;
    if (stat.isSymbolicLink()) {
      // The fix is in the message too: the run loop reports only the message of an item's error.
      const fix = `replace ${prefix} with a real folder (move what it links to into its place)`;
      throw new TendError(`${prefix} is a symlink; tend writes and moves nothing through a symlink: ${fix}`, fix);
    }
  }
}

let tmpCounter = 0;

/**
 * Write a file atomically: a crash leaves the old text or the new, never half of one. The
 * rename replaces a symlink rather than writing through it, a symlinked folder on the way is
 * refused, and the temporary file lives in .tend/ so a crash never leaves debris in backlog/.
 */
export async function writeFileAtomic(root: string, rel: string, text: string): Promise<void> {
  await refuseSymlinkedFolders(root, path.dirname(rel));
  const tmpDir = path.join(root, STATE_DIR, 'tmp');
  await mkdir(tmpDir, { recursive: true });
  const tmp = path.join(tmpDir, `${process.pid}-${tmpCounter++}.tmp`);
  const handle = await open(tmp, 'wx');
  try {
    await handle.writeFile(text);
    await handle.sync();
  } finally {
    await handle.close();
  }
  await rename(tmp, path.join(root, rel));
}

export async function writeItemFile(root: string, rel: string, item: ParsedItem): Promise<void> {
  await writeFileAtomic(root, rel, serializeItem(item));
}
