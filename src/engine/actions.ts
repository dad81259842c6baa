// What a person's command does to the repository: `tend approve`, `reject`, `retry` and `add`
// carry their change out through the writer, after the same checks a run makes. The commands
// decide what to ask for; this module is how they act, so none of them touches git or the
// journal itself.
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { BACKLOG_DIR, INBOX, type Item } from '../core/backlog.js';
import type { Decision } from '../core/decide.js';
import { serializeItem, updateItem, type ParsedItem } from '../core/item.js';
import { TendError } from '../core/problem.js';
import { uniqueId } from '../core/slug.js';
import { commitMessage } from '../core/transition.js';
import { checkCanCommit, git } from '../edges/git.js';
import { checkFolders, openRepo, type Repo } from '../edges/repo.js';
import { carryOut, PENDING, workingBranch } from './writer.js';
import { currentBranchFast } from '../edges/git.js';

/**
 * The repository, with any transition a killed tend process left half done committed first, so
 * a command run again after a kill acts on the item where that transition left it; refused while
 * another tend process is moving item `id`.
 */
export async function openForAction(cwd: string, id: string): Promise<Repo> {
  const repo = await openRepo(cwd);
  const { committed, busy } = await carryOut({ root: repo.root, branch: await currentBranchFast(repo.root) }, PENDING);
  if (busy.has(id)) throw new TendError(`another tend process is moving ${id} right now`, 'try again in a moment');
  if (committed.length === 0) return repo;
  const what = `committed ${committed.length} transition(s) a killed tend process had left uncommitted`;
  process.stderr.write(`tend: ${what}: ${committed.join('; ')}\n`);
  return openRepo(cwd);
}

/** Carry out a person's decision about `item`; returns the line the command prints. */
export async function act(repo: Repo, item: Item, decision: Decision): Promise<string> {
  const { settings } = repo.config;
  const author = settings.git.author;
  // A person's merge or rebase in progress, or no identity: refused before the move. (A locked
  // index is not waited for here: a commit that fails is finished later from the journal.)
  await checkCanCommit(repo.root, author, { waitForIndex: false });
  const branch = await workingBranch(repo.root, settings.git.branch, 'command');
  const warn = (message: string) => process.stderr.write(`tend: ${message}\n`);
  // An item's branch built on another clone is merged as the remote had it at the last sync.
  const target = { root: repo.root, branch, author, settings, warn, remote: settings.git.remote };
  const written = await carryOut(target, { item, decision });
  return `${item.id}: ${written.transition.summary}`;
}

export interface AddResult {
  id: string;
  file: string;
  committed: boolean;
  /** The file was left by an earlier `tend add` that could not commit it, and is committed now. */
  leftover: boolean;
}

/**
 * Write `item` as a new inbox file named after `base` (an id no item in `known` has) and commit
 * it; or commit the same item an earlier `tend add` wrote and could not commit.
 */
export async function addToInbox(
  repo: Repo,
  item: ParsedItem,
  base: string,
  known: ReadonlySet<string>,
): Promise<AddResult> {
  const author = repo.config.settings.git.author;
  // Checked before the file is written: a commit that fails would leave it behind.
  await checkCanCommit(repo.root, author);
  await checkFolders(repo.root, { writable: true });
  const leftover = await leftoverOf(repo, base, item);
  const taken = (c: string) => known.has(c) || existsSync(path.join(repo.root, BACKLOG_DIR, `${c}.md`));
  const id = leftover ?? uniqueId(base, taken);
  const file = `${BACKLOG_DIR}/${id}.md`;
  const message = commitMessage({ id, summary: 'added', phase: 'inbox', outcome: 'added' });
  const change = leftover
    ? { paths: [file], message }
    : { paths: [], message, create: { file, text: serializeItem(item) } };
  try {
    const committed = await carryOut({ root: repo.root, author }, change);
    return { id, file, committed, leftover: leftover !== undefined };
  } catch (err) {
    if (!(err instanceof TendError) || !existsSync(path.join(repo.root, file))) throw err;
    const again = `run the same \`tend add\` again: it commits ${file} rather than adding the item twice`;
    const fix = err.fix ? `${err.fix}; then ${again}` : again;
    throw new TendError(`${err.message}; ${file} is written but not committed`, fix, { cause: err });
  }
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
