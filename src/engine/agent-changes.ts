// What an agent changed in the backlog that is not its own to change. An agent runs with the
// person's permissions and can write anything; tend cannot prevent that, so it checks when the
// agent is done, puts back what steers the run, and says so. tend's last commit of an item is the
// authority for the keys the engine owns and for the folder (phase) of an item whose agent ran.
import { existsSync } from 'node:fs';
import { readdir, rename, rmdir } from 'node:fs/promises';
import path from 'node:path';
import { readItemFile } from '../edges/store.js';
import { BACKLOG_DIR, ITEM_FILE, type Item } from '../core/backlog.js';
import { KEPT_FROM_AGENTS } from '../core/engine-keys.js';
import type { Decision } from '../core/decide.js';
import type { ItemChanges } from '../core/item.js';
import { frontmatterChanges } from './hand-edits.js';

/**
 * Keys of KEPT_FROM_AGENTS (and `approved`) with the values tend last committed, to be written back
 * as they were: they were valid then, so they are taken as the types the schema gives them.
 */
export function asChanges(committed: Record<string, unknown>): ItemChanges {
  return committed as ItemChanges;
}

export interface PutBack {
  /** Frontmatter values to write back (undefined removes the key). */
  restore: ItemChanges;
  /** What was put back, for the warning; undefined when nothing was. */
  note?: string;
}

/**
 * The engine's keys of the item as tend committed it when its phase started, where item.md now
 * says otherwise; and `approved`, which counts only when given while the item waits for approval,
 * so one present when the phase finishes (written by the agent, or early by a person) is cleared.
 */
export async function engineKeysChanged(root: string, claimed: Item): Promise<PutBack> {
  const now = await readItemFile(root, claimed.file, claimed.id).catch(() => undefined);
  if (!now || 'problems' in now) return { restore: {} };
  const before: Record<string, unknown> = {};
  const after: Record<string, unknown> = {};
  for (const key of [...KEPT_FROM_AGENTS, 'approved']) {
    const was = key === 'approved' ? undefined : claimed.parsed.data[key];
    if (JSON.stringify(was) === JSON.stringify(now.parsed.data[key])) continue;
    before[key] = was;
    after[key] = now.parsed.data[key];
  }
  if (Object.keys(before).length === 0) return { restore: {} };
  return {
    restore: asChanges(before),
    note: `${frontmatterChanges(before, after)} in ${claimed.file} while its ${claimed.location} agent ran; put back`,
  };
}

/** The folder under backlog/ that holds item `id` now, other than `except`; undefined if none. */
async function folderOf(root: string, id: string, except: string): Promise<string | undefined> {
  const folders = await readdir(path.join(root, BACKLOG_DIR), { withFileTypes: true }).catch(() => []);
  const found = folders.find(
    (f) => f.isDirectory() && f.name !== except && existsSync(path.join(root, BACKLOG_DIR, f.name, id, ITEM_FILE)),
  );
  return found?.name;
}

/**
 * The item's folder as its phase left it, once the agent is done. A person's move or removal
 * seen while the agent still ran is theirs and is handled before this (the agent is stopped).
 * Found only now, tend cannot tell who did it. Moved to another folder, it is moved back and the
 * attempt failed: nothing is lost, and an agent cannot skip phases (a person who moved it just
 * as the agent finished moves it again). Gone from the backlog (deleted, moved out, or renamed to
 * another id), it is not brought back, which would undo a person's removal or leave the item
 * twice: `gone` is set, and the removal is committed saying it happened while the agent ran.
 */
export async function reclaimFolder(root: string, claimed: Item): Promise<{ note?: string; gone?: boolean }> {
  if (!claimed.dir || existsSync(path.join(root, claimed.file))) return {};
  const where = await folderOf(root, claimed.id, claimed.location);
  const phase = claimed.location;
  if (where) {
    await rmdir(path.join(root, claimed.dir)).catch(() => undefined); // an empty folder left behind
    await rename(path.join(root, BACKLOG_DIR, where, claimed.id), path.join(root, claimed.dir));
    const found = `the item folder was in ${BACKLOG_DIR}/${where}/ when its ${phase} agent was done`;
    return { note: `${found} (an agent may not move its own item); moved back to ${claimed.dir}` };
  }
  return { gone: true };
}

/** `decision` with what was put back: the keys (unless the decision sets them) and a warning. */
export function withPutBack(decision: Decision, putBack: PutBack, notes: string[]): Decision {
  if (notes.length === 0) return decision;
  const warning = notes.join('; ');
  const earlier = typeof decision.changes.warning === 'string' ? `${decision.changes.warning}; ` : '';
  return {
    ...decision,
    changes: { ...putBack.restore, ...decision.changes, warning: `${earlier}${warning}` },
    transition: { ...decision.transition, extra: { ...decision.transition.extra, 'Tend-Warning': warning } },
  };
}
