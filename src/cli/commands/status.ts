// `tend status`: the board as text or JSON.
import { hostname } from 'node:os';
import { board, boardJson, type Board } from '../../core/board.js';
import { formatDuration } from '../../core/duration.js';
import { clean, paint, printJson, table, truncate } from '../output.js';
import { formatProblem } from '../../core/problem.js';
import type { Item, Snapshot } from '../../core/backlog.js';
import { latestDone } from '../../edges/latest-done.js';
import { readDoneItems } from '../../edges/store.js';
import { runHolder } from '../../edges/lock.js';
import type { Repo } from '../../edges/repo.js';
import { heldByDayCap } from '../../engine/run-budget.js';
import { syncStatus, type SyncStatus } from '../../edges/remote.js';
import { syncLine } from '../sync-line.js';

/** How many finished items `tend status` shows by default (`--done` in the command table says the same). */
const LATEST_DONE = 5;

/**
 * The snapshot with the finished items to show: the latest `limit` (Infinity: all, which a repo
 * opened with `finished: 'read'` holds already), read now, since a snapshot knows done/ by id.
 * One of them found invalid is listed as invalid.
 */
async function withLatestDone(repo: Repo, limit: number): Promise<{ snapshot: Snapshot; latest: string[] }> {
  const { snapshot } = repo;
  const latest = await latestDone(repo.root, snapshot.done, limit);
  const known = new Set(snapshot.items.map((i) => i.id));
  const read = await readDoneItems(
    repo.root,
    latest.filter((id) => !known.has(id)),
  );
  const items = [...snapshot.items, ...read.items];
  return { snapshot: { ...snapshot, items, invalid: [...snapshot.invalid, ...read.invalid] }, latest };
}

/** The items a spending cap holds back, and the line that says so (budget.per_day_usd, read from history). */
async function heldBack(repo: Repo, items: Item[], now: number): Promise<Held> {
  const day = await heldByDayCap(repo.root, repo.config, items, now);
  if (!day.reached) return { items: day.held };
  const { spentUsd, capUsd } = day.reached;
  const spent = `$${spentUsd.toFixed(2)} spent in the last 24 hours`;
  const line = `budget.per_day_usd reached: ${spent} of $${capUsd.toFixed(2)}`;
  const waiting = day.held.size > 0 ? `${day.held.size} item(s) held` : 'nothing new starts';
  return { items: day.held, line: `${line}; ${waiting} until spending rolls out of the 24 hours` };
}

/** The item's state column: done or blocked by its folder, held by a cap, else its status. */
function itemState(item: Item, location: string, held: Held, c: ReturnType<typeof paint>): string {
  const f = item.fields;
  const cap = held.items.get(item.id);
  if (cap) return c('yellow', `held (${cap})`);
  const color =
    f.status === 'failed' ? 'red' : f.status === 'waiting' ? 'yellow' : f.status === 'running' ? 'cyan' : 'dim';
  return c(color, location === 'done' ? 'done' : location === 'blocked' ? 'blocked' : f.status);
}

interface Held {
  items: ReadonlyMap<string, string>;
  line?: string;
}

export async function status(repo: Repo, options: { json: boolean; done?: number; now?: number }): Promise<void> {
  const now = options.now ?? Date.now();
  const { snapshot, latest } = await withLatestDone(repo, options.done ?? LATEST_DONE);
  const b = board(snapshot, repo.config, latest);
  const run = await runHolder(repo.root);
  const held = await heldBack(repo, snapshot.items, now);
  const sync = await syncStatus(repo.root, repo.config.settings.git.remote);
  if (options.json) {
    printJson({ ...boardJson(b, repo, now, held.items), run: run ?? null, sync: sync ?? null });
    return;
  }
  // `running` in a file with no run to hold it: the run died (kill -9, a reboot) at that point.
  const interrupted = (item: Item) => item.fields.status === 'running' && !run && !heldElsewhere(item, sync);
  const c = paint(process.stdout);
  const out: string[] = [];
  const groups = b.groups.filter((g) => g.count > 0);
  if (groups.length === 0 && b.invalid.length === 0) {
    out.push('The backlog is empty. Add an item with `tend add "Title"` or write a .md file in backlog/.');
  }
  for (const group of groups) {
    out.push(c('bold', `${group.location} (${group.count})`));
    const rows = group.items.map((item) => {
      const f = item.fields;
      const state = interrupted(item) ? c('red', 'interrupted') : itemState(item, group.location, held, c);
      const title = truncate(clean(f.title), 60);
      const stale = f.stale.length > 0 ? c('yellow', `  stale: ${f.stale.join(', ')}`) : '';
      const age = formatDuration(Math.max(0, now - item.createdMs));
      return [
        `  ${item.id}`,
        `p${f.priority}`,
        state,
        `att ${f.attempts}`,
        age,
        `$${f.cost_usd.toFixed(2)}`,
        title + stale,
      ];
    });
    if (rows.length > 0) out.push(table(rows));
    if (group.items.length < group.count) {
      const shown = group.items.length === 0 ? 'none shown' : `the latest ${group.items.length} shown`;
      out.push(c('dim', `  ${group.count} in all, ${shown}; \`tend status --all\` shows every one`));
    }
    out.push('');
  }
  out.push(...invalidLines(b.invalid, c));
  for (const p of repo.errors) out.push(c('red', `config error: ${formatProblem(p)}`));
  const cut = b.groups.flatMap((g) => g.items).filter(interrupted).length;
  if (cut > 0) {
    const again = '`tend run` picks them up again (the interrupted attempt counts)';
    out.push(c('red', `${cut} item(s) were running when the run holding them ended; ${again}`));
  }
  if (held.line) out.push(c('yellow', held.line));
  if (run) out.push(c('dim', `tend run is working here (pid ${run.pid} on ${run.host}, since ${run.started})`));
  if (sync?.ahead !== undefined) out.push(c(sync.lastError ? 'yellow' : 'dim', syncLine(sync, sync.ahead)));
  process.stdout.write(`${out.join('\n').trimEnd()}\n`);
}

/** The invalid entries with their problems, under a heading; nothing when there are none. */
function invalidLines(invalid: Board['invalid'], c: ReturnType<typeof paint>): string[] {
  if (invalid.length === 0) return [];
  const out = [c('red', c('bold', `invalid (${invalid.length})`)) + c('dim', ' — not touched by tend until fixed')];
  for (const entry of invalid) {
    out.push(`  ${entry.path}`);
    for (const p of entry.problems) out.push(`    ${formatProblem(p)}`);
  }
  return [...out, ''];
}

/** With a remote, a claim of another host's run is that run's, not one cut off here. */
function heldElsewhere(item: Item, sync: SyncStatus | undefined): boolean {
  return sync !== undefined && !item.fields.owner?.startsWith(`${hostname()}:`);
}
