// The backlog as data: the folders it is made of and what reading it yields. Pure; the
// reading and writing happen in edges/store.ts.
import type { ItemFields, ParsedItem } from './item.js';
import type { Problem } from './problem.js';

export const BACKLOG_DIR = 'backlog';
export const ITEM_FILE = 'item.md';
export const INBOX = 'inbox';
export const DONE = 'done';
export const BLOCKED = 'blocked';
/** Items larger than this are refused: an agent prompt is not the place for a data dump. */
export const MAX_ITEM_BYTES = 1024 * 1024;

export interface Item {
  id: string;
  /** `inbox`, a phase name, `done` or `blocked`: the folder the item sits in. */
  location: string;
  /** Repository-relative path of the item file. */
  file: string;
  /** Repository-relative item folder; undefined for inbox files. */
  dir?: string;
  parsed: ParsedItem;
  fields: ItemFields;
  /** Files beside item.md (artifacts of earlier phases), sorted. */
  artifacts: string[];
  /** When the item was created: its `created` key, else the file's modification time. */
  createdMs: number;
}

export interface InvalidEntry {
  /** Repository-relative path of the bad file or folder. */
  path: string;
  id?: string;
  location?: string;
  problems: Problem[];
}

export interface Snapshot {
  /** Every item outside done/; done/'s items too when they were read in full. */
  items: Item[];
  invalid: InvalidEntry[];
  /**
   * The ids of the items in done/, from the folder names alone: done/ only grows, and what a
   * command or a run needs of a finished item (a dependency met, an id taken, a count) is its
   * id, so its files are read only when asked for (see readBacklog).
   */
  done: ReadonlySet<string>;
}
