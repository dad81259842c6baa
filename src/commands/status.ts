// `tend status`: the board as text or JSON.
import { board, boardJson } from '../backlog/board.js';
import { formatDuration } from '../duration.js';
import { paint, printJson, table, truncate } from '../output.js';
import { formatProblem } from '../problem.js';
import type { Repo } from '../repo.js';

export function status(repo: Repo, options: { json: boolean; now?: number }): void {
  const now = options.now ?? Date.now();
  const b = board(repo.snapshot, repo.config);
  if (options.json) {
    printJson(boardJson(b, repo, now));
    return;
  }
  const c = paint(process.stdout);
  const out: string[] = [];
  const groups = b.groups.filter((g) => g.items.length > 0);
  if (groups.length === 0 && b.invalid.length === 0) {
    out.push('The backlog is empty. Add an item with `tend add "Title"` or write a .md file in backlog/.');
  }
  for (const group of groups) {
    out.push(c('bold', `${group.location} (${group.items.length})`));
    const rows = group.items.map((item) => {
      const f = item.fields;
      const statusColor = f.status === 'failed' ? 'red' : f.status === 'waiting' ? 'yellow' : f.status === 'running' ? 'cyan' : 'dim';
      return [
        `  ${item.id}`,
        `p${f.priority}`,
        c(statusColor, group.location === 'done' ? 'done' : group.location === 'blocked' ? 'blocked' : f.status),
        `att ${f.attempts}`,
        formatDuration(Math.max(0, now - item.createdMs)),
        `$${f.cost_usd.toFixed(2)}`,
        truncate(f.title, 60),
      ];
    });
    out.push(table(rows), '');
  }
  if (b.invalid.length > 0) {
    out.push(c('red', c('bold', `invalid (${b.invalid.length})`)) + c('dim', ' — not touched by tend until fixed'));
    for (const entry of b.invalid) {
      out.push(`  ${entry.path}`);
      for (const p of entry.problems) out.push(`    ${formatProblem(p)}`);
    }
    out.push('');
  }
  for (const p of repo.errors) out.push(c('red', `config error: ${formatProblem(p)}`));
  process.stdout.write(`${out.join('\n').trimEnd()}\n`);
}
