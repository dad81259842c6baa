// What the board page shows, as JSON: the same snapshot and board model `tend status` uses
// (src/core/board.ts), with done/ paged from git's history (latest first) and, for the items an
// agent works on, what the run has left on disk about that work.
import { createHash } from 'node:crypto';
import { board, boardJson, itemJson } from '../core/board.js';
import { DONE, type Item, type Snapshot } from '../core/backlog.js';
import { serializeItem } from '../core/item.js';
import { latestDone } from '../edges/latest-done.js';
import { runHolder } from '../edges/lock.js';
import { openRepo, type Repo } from '../edges/repo.js';
import { readDoneItems } from '../edges/store.js';
import { runningWork, type RunningWork } from './running.js';

/** How many finished items one page of the done column holds. */
export const DONE_PAGE = 20;

/**
 * What a page saw of an item: item.md's text and where it was. An action sends it back, and is
 * refused when the item has changed since, so no edit is made on a stale view.
 */
export function itemVersion(location: string, text: string): string {
  return createHash('sha256').update(`${location}\0${text}`).digest('hex').slice(0, 16);
}

/** The item's version from its file as read (the parsed frontmatter keeps the file's bytes). */
export function versionOf(item: Item): string {
  return itemVersion(item.location, serializeItem(item.parsed));
}

export interface Card extends ReturnType<typeof itemJson> {
  version: string;
  waiting_for_you: boolean;
  /** `running` in its file with no run to hold it: the run died there (kill -9, a reboot). */
  interrupted: boolean;
  running: RunningWork | null;
}

/** One page of done/: the finished items `offset` to `offset + limit`, latest first. */
async function donePage(repo: Repo, offset: number, limit: number): Promise<{ snapshot: Snapshot; shown: string[] }> {
  const { snapshot } = repo;
  const shown = (await latestDone(repo.root, snapshot.done, offset + limit)).slice(offset);
  const read = await readDoneItems(repo.root, shown);
  const items = [...snapshot.items.filter((i) => i.location !== DONE), ...read.items];
  return { snapshot: { ...snapshot, items, invalid: [...snapshot.invalid, ...read.invalid] }, shown };
}

/** The board of the repository at `cwd` as the page draws it. */
export async function boardData(cwd: string, options: { doneOffset?: number; now?: number } = {}) {
  const now = options.now ?? Date.now();
  const repo = await openRepo(cwd);
  const offset = options.doneOffset ?? 0;
  const { snapshot, shown } = await donePage(repo, offset, DONE_PAGE);
  const b = board(snapshot, repo.config, shown);
  const run = await runHolder(repo.root);
  const cards = async (items: Item[]): Promise<Card[]> =>
    Promise.all(
      items.map(async (item) => {
        const active = item.fields.status === 'running';
        return {
          ...itemJson(item, now),
          version: versionOf(item),
          waiting_for_you: item.fields.status === 'waiting',
          interrupted: active && !run,
          running: active && run ? await runningWork(repo, item, now) : null,
        };
      }),
    );
  const json = boardJson(b, repo, now);
  const columns = await Promise.all(
    b.groups.map(async (g) => ({ location: g.location, count: g.count, items: await cards(g.items) })),
  );
  return {
    version: 1,
    columns,
    done: { ...json.done, offset, page: DONE_PAGE },
    invalid: json.invalid,
    config: json.config,
    pipelines: [...repo.config.pipelines.keys()],
    run: run ?? null,
  };
}

export type BoardData = Awaited<ReturnType<typeof boardData>>;
