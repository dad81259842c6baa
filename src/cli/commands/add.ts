// `tend add`: write a new inbox item `backlog/<slug>.md` and commit it. The file is exactly
// what a human would write by hand.
import { existsSync } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { writeItemFile } from '../../edges/store.js';
import { BACKLOG_DIR, INBOX } from '../../core/backlog.js';
import { checkCanCommit, commitPaths, git } from '../../edges/git.js';
import { parseItem, serializeItem, updateItem, type ParsedItem } from '../../core/item.js';
import { TendError } from '../../core/problem.js';
import { checkFolders, type Repo } from '../../edges/repo.js';
import { isValidId, slugify, uniqueId } from '../../core/slug.js';
import { commitMessage } from '../../core/transition.js';

export interface AddOptions {
  title: string;
  priority?: number;
  pipeline?: string;
  labels?: string[];
  dependsOn?: string[];
  body?: string;
  now?: Date;
}

export interface AddResult {
  id: string;
  file: string;
  committed: boolean;
  /** The file was left by an earlier `tend add` that could not commit it, and is committed now. */
  leftover: boolean;
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
  const author = repo.config.settings.git.author;
  // Checked before the file is written: a commit that fails would leave it behind.
  await checkCanCommit(repo.root, author);
  await checkFolders(repo.root, { writable: true });
  const base = slugify(title) || 'item';
  const item = newItem(title, options);
  const leftover = await leftoverOf(repo, base, item);
  const taken = (c: string) => known.has(c) || existsSync(path.join(repo.root, BACKLOG_DIR, `${c}.md`));
  const id = leftover ?? uniqueId(base, taken);
  const file = `${BACKLOG_DIR}/${id}.md`;
  if (!leftover) {
    await mkdir(path.join(repo.root, BACKLOG_DIR), { recursive: true });
    await writeItemFile(repo.root, file, item);
  }
  try {
    const message = commitMessage({ id, summary: 'added', phase: 'inbox', outcome: 'added' });
    const committed = await commitPaths(repo.root, [file], message, { author });
    return { id, file, committed, leftover: leftover !== undefined };
  } catch (err) {
    if (!(err instanceof TendError)) throw err;
    const again = `run the same \`tend add\` again: it commits ${file} rather than adding the item twice`;
    const fix = err.fix ? `${err.fix}; then ${again}` : again;
    throw new TendError(`${err.message}; ${file} is written but not committed`, fix, { cause: err });
  }
}

/** The item as `tend add` writes it, exactly what a human would write by hand. */
function newItem(title: string, options: AddOptions): ParsedItem {
  const body = options.body === undefined || options.body.trim() === '' ? '' : `${options.body.replace(/\s+$/, '')}\n`;
  const blank = parseItem(body || `# ${title}\n`, 'new item', 'item');
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

/**
 * The id of this same item written by an earlier `tend add` whose commit failed: an inbox file
 * git has never committed whose text is `item`'s but for the time it was created. Committing
 * that file, rather than writing a second, is what a person running the command again wants.
 */
async function leftoverOf(repo: Repo, base: string, item: ParsedItem): Promise<string | undefined> {
  const own = new RegExp(`^${base}(-\\d+)?$`);
  for (const candidate of repo.snapshot.items) {
    const created = candidate.parsed.data.created;
    if (candidate.location !== INBOX || !own.test(candidate.id) || typeof created !== 'string') continue;
    const text = await readFile(path.join(repo.root, candidate.file), 'utf8');
    if (serializeItem(updateItem(item, { created })) !== text) continue;
    const committed = await git(repo.root, ['cat-file', '-e', `HEAD:${candidate.file}`]);
    if (committed.exitCode !== 0) return candidate.id;
  }
  return undefined;
}
