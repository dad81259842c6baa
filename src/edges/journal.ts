// A write-ahead record of the transition being carried out: the writer (src/engine/writer.ts)
// records, carries out and commits; this module stores and reads the records. A transition is
// several steps on disk (move the folder, rewrite item.md, commit); a process killed between
// them leaves the item whole but uncommitted, and without this record the next run could only
// guess, and would log tend's own move as "moved by hand". With it, the next run finishes the
// commit that was started, under its own message, but only while item.md still holds exactly
// what the transition left (or, for a move, what it moved): anything else means someone has
// acted since, and the change is left to the hand-change scan.
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { git } from './git.js';
import { isAlive, processIdentity } from './pid.js';
import { STATE_DIR } from './state-dir.js';
import { writeFileAtomic } from './store.js';

const JOURNAL_DIR = path.join(STATE_DIR, 'journal');

/** A transition takes well under this; an older record's pid has been reused by another process. */
const STALE_MS = 10 * 60_000;

export interface PendingTransition {
  /** The process carrying it out: a live one is still at it and is left alone. */
  pid: number;
  /** processIdentity(pid) when recorded, to tell that process from a later one with its pid. */
  process?: string;
  id: string;
  /** item.md where the transition puts it. */
  file: string;
  /** Whether the transition moves the item to another folder. */
  moved: boolean;
  /** sha256 of item.md's text before the transition, and its whole text after. */
  before: string;
  after: string;
  /** Pathspecs for the item where it lands, and where it was (committed as deletions only). */
  paths: string[];
  sources: string[];
  message: string;
  author?: string;
}

export function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/** Records this process is carrying out right now; any other record of its own pid is stale. */
const inFlight = new Set<string>();
let ownIdentity: string | undefined;

/** Record `entry` before the first step on disk; returns the record's path, for `done`. */
export async function record(root: string, entry: PendingTransition): Promise<string> {
  const dir = path.join(root, JOURNAL_DIR);
  await mkdir(dir, { recursive: true });
  const file = path.join(dir, `${entry.id}.${entry.pid}.json`);
  const tmp = `${file}.tmp`;
  inFlight.add(file);
  ownIdentity ??= processIdentity(process.pid);
  await writeFile(
    tmp,
    JSON.stringify({ ...entry, process: entry.pid === process.pid ? ownIdentity : processIdentity(entry.pid) }),
  );
  await rename(tmp, file);
  return file;
}

/**
 * The transition is over: committed (the record goes), or failed half-way (the record stays,
 * for the writer to finish once git lets it, e.g. after the index lock is gone).
 */
export async function done(file: string, committed: boolean): Promise<void> {
  inFlight.delete(file);
  if (committed) await rm(file, { force: true });
}

/** Whether the process that wrote a record is still carrying it out. */
function underWay(file: string, entry: PendingTransition | undefined, pid: number, recordedMs: number): boolean {
  if (pid === process.pid) return inFlight.has(file);
  if (entry?.process?.includes(' ')) return processIdentity(pid) === entry.process;
  // No identity to compare (not Linux, or a record cut off before it was whole): the pid, while
  // the record is young enough that the pid cannot have been handed to another process.
  return Date.now() - recordedMs <= STALE_MS && isAlive(pid);
}

export interface Finished {
  /** Subjects of the transitions committed now. */
  committed: string[];
  /** Items another live tend process is carrying a transition out for right now. */
  busy: Set<string>;
}

/** A record found in the journal; `entry` is undefined when it cannot be read (cut off before it was whole). */
export interface PendingRecord {
  file: string;
  entry?: PendingTransition;
}

/**
 * The records that processes which are gone (or this one, where a commit failed) left half done,
 * oldest first, for the writer to finish; and the items other processes are moving right now,
 * which must be left alone.
 */
export async function pendingRecords(root: string): Promise<{ records: PendingRecord[]; busy: Set<string> }> {
  const dir = path.join(root, JOURNAL_DIR);
  const found = { records: [] as PendingRecord[], busy: new Set<string>() };
  const names = await readdir(dir).catch(() => [] as string[]);
  if (names.length === 0) return found;
  const entries: { file: string; mtimeMs: number; pid: number }[] = [];
  for (const name of names) {
    const file = path.join(dir, name);
    const pid = Number(/\.(\d+)\.json(\.tmp)?$/.exec(name)?.[1]);
    const mtimeMs = (await stat(file).catch(() => undefined))?.mtimeMs ?? 0;
    entries.push({ file, mtimeMs, pid });
  }
  for (const { file, mtimeMs, pid } of entries.sort((a, b) => a.mtimeMs - b.mtimeMs)) {
    const whole = file.endsWith('.json');
    const entry = whole
      ? await readFile(file, 'utf8')
          .then((t) => JSON.parse(t) as PendingTransition)
          .catch(() => undefined)
      : undefined;
    if (underWay(whole ? file : file.slice(0, -'.tmp'.length), entry, pid, mtimeMs)) {
      if (whole) found.busy.add(path.basename(file).split('.')[0] ?? '');
      continue;
    }
    found.records.push({ file, entry });
  }
  return found;
}

/** A record is finished (committed, or found not to be this record's to commit): it goes. */
export async function forget(file: string): Promise<void> {
  await rm(file, { force: true });
}

/** Ids of the items with a journal record still waiting to be finished, whoever wrote it. */
export async function pendingIds(root: string): Promise<Set<string>> {
  const names = await readdir(path.join(root, JOURNAL_DIR)).catch(() => [] as string[]);
  return new Set(names.map((name) => name.split('.')[0] ?? '').filter(Boolean));
}

/**
 * The paths to commit to finish `entry`, with item.md rewritten if the kill came before that;
 * undefined when there is nothing of this record's to commit.
 */
export async function readyToFinish(root: string, entry: PendingTransition): Promise<string[] | undefined> {
  const abs = path.join(root, entry.file);
  if (!existsSync(abs)) return undefined; // not moved: the transition never happened
  const now = await readFile(abs, 'utf8');
  const written = now === entry.after;
  // Moved but not yet rewritten: finish the rewrite. Unmoved and unwritten: it never happened.
  // Anything else: someone has changed the item since, and it is not this record's to commit.
  if (!written && !(entry.moved && sha256(now) === entry.before)) return undefined;
  if (written && (await committedAs(root, entry.file, entry.after))) return undefined; // committed before the kill
  if (!written) await writeFileAtomic(root, entry.file, entry.after);
  // Where the item was is committed as gone only: a new file there since is someone else's.
  const sources = entry.sources.filter((p) => !existsSync(path.join(root, p)));
  return [...entry.paths, ...sources];
}

/** Whether HEAD holds `text` at `file` (blob ids compared: git output loses trailing newlines). */
async function committedAs(root: string, file: string, text: string): Promise<boolean> {
  const inHead = await git(root, ['rev-parse', '--verify', '--quiet', `HEAD:${file}`]);
  if (inHead.exitCode !== 0) return false;
  const blob = await git(root, ['hash-object', '--no-filters', '--stdin'], { input: text });
  return blob.exitCode === 0 && blob.stdout.trim() === inHead.stdout.trim();
}
