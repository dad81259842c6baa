// `tend show <id>`: one item with its artifacts, what its work changed, and its history from git log.
import { itemJson, problemJson } from '../../core/board.js';
import { DONE, type Item } from '../../core/backlog.js';
import { baseBranch, diffText, itemDiff, itemHistory, type ItemDiff, type LogEntry } from '../../edges/history.js';
import { clean, colorEnabled, paint, printJson } from '../output.js';
import { isValidId } from '../../core/slug.js';
import { formatProblem, TendError } from '../../core/problem.js';
import { findById, type Repo } from '../../edges/repo.js';

type Paint = ReturnType<typeof paint>;

export async function show(
  repo: Repo,
  id: string,
  options: { json: boolean; diff?: boolean; now?: number },
): Promise<void> {
  const now = options.now ?? Date.now();
  const found = await findById(repo, id);
  const { item } = found;
  const invalid = found.invalid ?? repo.snapshot.invalid.find((i) => i.path === id);
  if (!item && !invalid) {
    const ids = [...repo.snapshot.items.map((i) => i.id), ...repo.snapshot.done];
    const close = ids.filter((other) => other.includes(id) || id.includes(other));
    throw new TendError(
      `no item with id ${id}`,
      close.length > 0 ? `did you mean ${close.slice(0, 5).join(', ')}?` : 'see `tend status` for the ids',
    );
  }
  const history = isValidId(id) ? await itemHistory(repo.root, id) : [];
  const base = await baseBranch(repo.root, repo.config.settings.git.branch);
  const changes: ItemDiff =
    isValidId(id) && base
      ? await itemDiff(repo.root, id, base, landedByTend(item))
      : { files: 0, insertions: 0, deletions: 0, source: null };
  if (options.json) {
    const { range: _range, ...counts } = changes;
    printJson({
      version: 1,
      item: item ? { ...itemJson(item, now), frontmatter: item.parsed.data, body: item.parsed.frontmatter.body } : null,
      invalid: invalid ? { path: invalid.path, problems: invalid.problems.map(problemJson) } : null,
      changes: counts,
      history,
    });
    return;
  }
  const c = paint(process.stdout);
  const out: string[] = [];
  if (item) out.push(...itemLines(item, c));
  if (invalid) {
    out.push(c('red', `invalid: ${invalid.path}`));
    for (const p of invalid.problems) out.push(`  ${formatProblem(p)}`);
  }
  out.push(...(await changeLines(repo.root, id, changes, c)), ...historyLines(history, c));
  process.stdout.write(`${out.join('\n')}\n`);
  if (options.diff && changes.range) {
    const patch = await diffText(repo.root, changes.range, { stat: false, color: colorEnabled(process.stdout) });
    process.stdout.write(patch ? `\n${patch}\n` : '');
  }
}

/**
 * Whether tend may have landed the item's work without a merge commit (`merge: ff`): it is done and
 * its `branch` key is gone, as tend drops it once the work has landed. An item that kept its branch
 * (`merge: none`, a pull request) is never matched to commits on the base that are not its own.
 */
function landedByTend(item: Item | undefined): boolean {
  return item?.location === DONE && item.fields.branch === undefined;
}

function itemLines(item: Item, c: Paint): string[] {
  const out = [
    `${c('bold', clean(item.fields.title))}  ${c('dim', `(${item.id})`)}`,
    `${c('dim', 'file:')} ${item.file}`,
    '',
  ];
  for (const [key, value] of Object.entries(item.parsed.data)) out.push(`${c('cyan', key)}: ${JSON.stringify(value)}`);
  out.push('', clean(item.parsed.frontmatter.body.trim()) || c('dim', '(no text)'), '');
  out.push(c('bold', 'artifacts'));
  const stale = new Set(item.fields.stale);
  out.push(
    ...(item.artifacts.length > 0
      ? item.artifacts.map((a) => `  ${item.dir}/${a}${stale.has(a) ? c('yellow', '  (stale)') : ''}`)
      : [c('dim', '  (none yet)')]),
  );
  if (stale.size > 0) {
    const from = item.fields.stale_source ? ` since ${item.fields.stale_source} was edited by hand` : '';
    out.push(
      c('yellow', `  stale${from}: ${[...stale].join(', ')}; \`tend redo ${item.id} --from <phase>\` reruns them`),
    );
  }
  return out;
}

/** The diffstat of the item's work, and where it was found. */
async function changeLines(root: string, id: string, changes: ItemDiff, c: Paint): Promise<string[]> {
  const out = ['', c('bold', 'changes')];
  if (!changes.range) return [...out, c('dim', `  (no branch tend/${id} and no merge of it found)`)];
  const where =
    changes.source === 'branch' ? `branch tend/${id} against where it left the base` : 'the commit(s) that landed it';
  out.push(c('dim', `  ${where}; \`tend show ${id} --diff\` prints the whole diff`));
  const stat = await diffText(root, changes.range, { stat: true, color: false });
  out.push(stat ? stat.replace(/^/gm, ' ') : c('dim', '  (no changes)'));
  return out;
}

function historyLines(history: LogEntry[], c: Paint): string[] {
  const out = ['', c('bold', 'history')];
  if (history.length === 0) out.push(c('dim', '  (no commits yet)'));
  for (const h of history) {
    const cost = h.trailers['Tend-Cost-USD'];
    const extras = [
      h.trailers['Tend-Agent'],
      h.trailers['Tend-Duration'],
      cost && (cost === 'unknown' ? 'cost unknown' : `$${cost}`),
    ]
      .filter(Boolean)
      .join(', ');
    out.push(`  ${h.date}  ${h.commit.slice(0, 8)}  ${h.subject}${extras ? c('dim', `  (${extras})`) : ''}`);
  }
  return out;
}
