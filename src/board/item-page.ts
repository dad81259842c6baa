// One item as its page shows it: the text and every artifact rendered, its history from git
// log with the trailers, its branch's diff against the branch tend works on, its cost per phase.
import { problemJson, itemJson } from '../core/board.js';
import type { Item } from '../core/backlog.js';
import { isValidId } from '../core/slug.js';
import { currentBranchFast, git } from '../edges/git.js';
import { itemHistory, type LogEntry } from '../edges/history.js';
import { findById, openRepo, type Repo } from '../edges/repo.js';
import { versionOf } from './data.js';
import { FileRefused, readArtifact } from './files.js';
import { renderMarkdown } from './render.js';

const MAX_DIFF_BYTES = 256 * 1024;

export class NotFound extends Error {}

/** The item `id` of the repository at `cwd`, or its invalid entry; NotFound when neither exists. */
export async function findItem(cwd: string, id: string): Promise<{ repo: Repo; item?: Item; invalid?: unknown }> {
  if (!isValidId(id)) throw new FileRefused(`not an item id: ${JSON.stringify(id)}`, 400);
  const repo = await openRepo(cwd);
  const found = await findById(repo, id);
  if (!found.item && !found.invalid) throw new NotFound(`no item with id ${id}`);
  return { repo, item: found.item, invalid: found.invalid };
}

/** What each phase cost, from the transitions' Tend-Cost-USD trailers. */
function costPerPhase(history: LogEntry[]): Record<string, number> {
  const costs: Record<string, number> = {};
  for (const h of history) {
    const phase = h.trailers['Tend-Phase'];
    const cost = Number(h.trailers['Tend-Cost-USD']);
    if (phase && Number.isFinite(cost)) costs[phase] = Math.round(((costs[phase] ?? 0) + cost) * 100) / 100;
  }
  return costs;
}

/** `git diff <base>...<branch>`, cut at MAX_DIFF_BYTES; null when the item has no branch (yet). */
async function branchDiff(repo: Repo, item: Item): Promise<{ base: string; branch: string; text: string } | null> {
  const branch = item.fields.branch;
  const base = await currentBranchFast(repo.root);
  if (!branch || !base || branch === base) return null;
  const result = await git(repo.root, ['diff', '--no-color', '--no-ext-diff', `${base}...${branch}`, '--']);
  if (result.exitCode !== 0) return { base, branch, text: `(no diff: ${result.stderr.trim()})` };
  const text = result.stdout;
  return { base, branch, text: text.length > MAX_DIFF_BYTES ? `${text.slice(0, MAX_DIFF_BYTES)}\n… (cut)` : text };
}

async function renderArtifacts(repo: Repo, item: Item) {
  return Promise.all(
    item.artifacts.map(async (name) => {
      const { text, cut } = await readArtifact(repo.root, item, name);
      const markdown = name.endsWith('.md') ? text : `\`\`\`\`\n${text}\n\`\`\`\``;
      return { name, html: await renderMarkdown(markdown), cut };
    }),
  );
}

export async function itemPage(cwd: string, id: string, now = Date.now()) {
  const { repo, item, invalid } = await findItem(cwd, id);
  const history = await itemHistory(repo.root, id);
  const entry = invalid as { path: string; problems: Parameters<typeof problemJson>[0][] } | undefined;
  return {
    version: 1,
    item: item
      ? {
          ...itemJson(item, now),
          version: versionOf(item),
          body: item.parsed.frontmatter.body,
          html: await renderMarkdown(item.parsed.frontmatter.body),
        }
      : null,
    invalid: entry ? { path: entry.path, problems: entry.problems.map(problemJson) } : null,
    artifacts: item ? await renderArtifacts(repo, item) : [],
    history,
    cost_per_phase: costPerPhase(history),
    diff: item ? await branchDiff(repo, item) : null,
    pipelines: [...repo.config.pipelines.keys()],
  };
}
