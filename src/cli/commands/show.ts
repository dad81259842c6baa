// `tend show <id>`: one item with its artifacts and its history from git log.
import { itemJson, problemJson } from '../../core/board.js';
import { itemHistory } from '../../edges/history.js';
import { clean, paint, printJson } from '../output.js';
import { isValidId } from '../../core/slug.js';
import { formatProblem, TendError } from '../../core/problem.js';
import { findById, type Repo } from '../../edges/repo.js';

export async function show(repo: Repo, id: string, options: { json: boolean; now?: number }): Promise<void> {
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
  if (options.json) {
    printJson({
      version: 1,
      item: item ? { ...itemJson(item, now), frontmatter: item.parsed.data, body: item.parsed.frontmatter.body } : null,
      invalid: invalid ? { path: invalid.path, problems: invalid.problems.map(problemJson) } : null,
      history,
    });
    return;
  }
  const c = paint(process.stdout);
  const out: string[] = [];
  if (item) {
    out.push(
      `${c('bold', clean(item.fields.title))}  ${c('dim', `(${item.id})`)}`,
      `${c('dim', 'file:')} ${item.file}`,
      '',
    );
    for (const [key, value] of Object.entries(item.parsed.data))
      out.push(`${c('cyan', key)}: ${JSON.stringify(value)}`);
    out.push('', clean(item.parsed.frontmatter.body.trim()) || c('dim', '(no text)'), '');
    out.push(c('bold', 'artifacts'));
    out.push(
      ...(item.artifacts.length > 0 ? item.artifacts.map((a) => `  ${item.dir}/${a}`) : [c('dim', '  (none yet)')]),
    );
  }
  if (invalid) {
    out.push(c('red', `invalid: ${invalid.path}`));
    for (const p of invalid.problems) out.push(`  ${formatProblem(p)}`);
  }
  out.push('', c('bold', 'history'));
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
  process.stdout.write(`${out.join('\n')}\n`);
}
