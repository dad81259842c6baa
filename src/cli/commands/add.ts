// `tend add`: write a new inbox item `backlog/<slug>.md` and commit it (src/engine/actions.ts).
// The file is exactly what a human would write by hand.
import { parseItem, updateItem, type ParsedItem } from '../../core/item.js';
import { TendError } from '../../core/problem.js';
import { isValidId, slugify } from '../../core/slug.js';
import { addToInbox, type AddResult } from '../../engine/actions.js';
import type { Repo } from '../../edges/repo.js';

export interface AddOptions {
  title: string;
  priority?: number;
  pipeline?: string;
  labels?: string[];
  dependsOn?: string[];
  body?: string;
  now?: Date;
}

export async function add(repo: Repo, options: AddOptions): Promise<AddResult> {
  const title = options.title.replace(/\s+/g, ' ').trim();
  if (!title) throw new TendError('the title is empty', 'give the item a title: tend add "Fix login on Safari"');
  if (options.pipeline !== undefined && !repo.config.pipelines.has(options.pipeline)) {
    throw new TendError(
      `no pipeline named ${JSON.stringify(options.pipeline)}`,
      `choose one of ${[...repo.config.pipelines.keys()].join(', ') || '(none: run tend init)'}`,
    );
  }
  const known = new Set([
    ...repo.snapshot.items.map((i) => i.id),
    ...repo.snapshot.done,
    ...repo.snapshot.invalid.flatMap((i) => (i.id ? [i.id] : [])),
  ]);
  for (const dep of options.dependsOn ?? []) {
    if (!isValidId(dep))
      throw new TendError(
        `${JSON.stringify(dep)} is not an item id`,
        'ids are lowercase letters, digits and dashes, as `tend status` shows them',
      );
    if (!known.has(dep)) throw new TendError(`no item with id ${dep}`, 'see `tend status` for the ids');
  }
  return addToInbox(repo, newItem(title, options), slugify(title) || 'item', known);
}

/** The item as `tend add` writes it, exactly what a human would write by hand. */
function newItem(title: string, options: AddOptions): ParsedItem {
  const body = options.body === undefined || options.body.trim() === '' ? '' : `${options.body.replace(/\s+$/, '')}\n`;
  const blank = parseItem(body || `# ${title}\n`, 'new item', 'item', title);
  if (!blank.item) {
    const first = blank.problems[0];
    const where = first?.line === undefined ? '' : ` (line ${first.line})`;
    const message = `the item text has a problem${where}: ${first?.message ?? 'it cannot be read'}`;
    throw new TendError(message, first?.fix ?? 'correct the frontmatter at its top, or leave it out');
  }
  return updateItem(body ? blank.item : { ...blank.item, frontmatter: { ...blank.item.frontmatter, body: '' } }, {
    title,
    priority: options.priority ?? 3,
    ...(options.pipeline ? { pipeline: options.pipeline } : {}),
    labels: options.labels ?? [],
    depends_on: options.dependsOn ?? [],
    created: (options.now ?? new Date()).toISOString().replace(/\.\d{3}Z$/, 'Z'),
  });
}
