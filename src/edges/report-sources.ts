// What `tend report` reads: the window's transitions from git history, the item files as they
// are now, the artifacts it quotes and the size of each finished item's change. Nothing in
// .tend/ is read, so a fresh clone gives the same report.
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { BLOCKED, type Item } from '../core/backlog.js';
import { SETTINGS_FILE } from '../core/config.js';
import { pipelineOf } from '../core/scheduler.js';
import { transitionsFrom } from '../core/transition-log.js';
import { finishedIds, type ChangeSize, type ReportInput, type ReportItemInput } from '../core/report.js';
import { currentBranchFast, git } from './git.js';
import { transitionCommits, type LogQuery } from './history.js';
import { openRepo, type Repo } from './repo.js';
import { readDoneItems } from './store.js';

/** The artifacts whose text the report quotes; any other is only linked. */
const QUOTED = new Set(['prd.md', 'spec.md', 'build.md', 'review.md']);

/** The report's input, and the repository's root (links in the report are relative to it). */
export async function reportSources(
  cwd: string,
  window: LogQuery & { since: string },
): Promise<{ input: ReportInput; root: string }> {
  const transitions = transitionsFrom(await transitionCommits(cwd, window));
  const repo = await openRepo(cwd);
  const done = finishedIds(transitions).filter((id) => repo.snapshot.done.has(id));
  const finished = (await readDoneItems(repo.root, done)).items;
  const open = repo.snapshot.items.filter((i) => i.location === BLOCKED || i.fields.status === 'waiting');
  const base = (await currentBranchFast(repo.root)) ?? 'HEAD';
  const items = await Promise.all([
    ...open.map((item) => itemInput(repo, item, undefined)),
    ...finished.map(async (item) => itemInput(repo, item, await changeSize(repo.root, item, base))),
  ]);
  const settingsKnown = existsSync(path.join(repo.root, SETTINGS_FILE)) && repo.errors.length === 0;
  const concurrency = settingsKnown ? repo.config.settings.concurrency : null;
  return {
    input: { window: { since: window.since, until: window.until ?? null }, transitions, items, concurrency },
    root: repo.root,
  };
}

async function itemInput(repo: Repo, item: Item, change: ChangeSize | undefined): Promise<ReportItemInput> {
  const dir = item.dir ?? path.dirname(item.file);
  const artifacts = await Promise.all(
    item.artifacts.map(async (name) => {
      const rel = `${dir}/${name}`;
      if (!QUOTED.has(name.toLowerCase())) return { path: rel };
      const text = await readFile(path.join(repo.root, rel), 'utf8').catch(() => undefined);
      return { path: rel, text };
    }),
  );
  const phase = pipelineOf(item, repo.config)?.phases.find((p) => p.name === item.location);
  const f = item.fields;
  const blockedPhase = item.parsed.data.blocked_phase;
  return {
    id: item.id,
    title: f.title,
    location: item.location,
    status: f.status,
    file: item.file,
    body: item.parsed.frontmatter.body,
    blockedReason: f.blocked_reason,
    blockedPhase: typeof blockedPhase === 'string' ? blockedPhase : undefined,
    resumeAt: f.resume_at,
    branch: f.branch,
    pr: f.pr,
    waitingOn: phase && f.status === 'waiting' ? `${dir}/${phase.artifact}` : undefined,
    artifacts,
    change,
  };
}

/** `git diff --shortstat` output: ` 3 files changed, 40 insertions(+), 2 deletions(-)`. */
export function parseShortstat(text: string, of: string): ChangeSize {
  const num = (re: RegExp) => Number(re.exec(text)?.[1] ?? 0);
  return {
    files: num(/(\d+) files? changed/),
    insertions: num(/(\d+) insertions?\(\+\)/),
    deletions: num(/(\d+) deletions?\(-\)/),
    of,
  };
}

/**
 * The size of a finished item's change: its branch against the base while the branch is kept
 * (merge: none), else the merge commit that landed it (merge: merge). Undefined when neither
 * exists (built in the checkout, or fast-forwarded and the branch deleted).
 */
export async function changeSize(root: string, item: Item, base: string): Promise<ChangeSize | undefined> {
  // Named here rather than taken from workspace.ts, which opens pull requests through this module.
  const branch = `tend/${item.id}`;
  const exists = await git(root, ['rev-parse', '--verify', '--quiet', `refs/heads/${branch}`]);
  if (item.fields.branch === branch && exists.exitCode === 0) {
    const range = `${base}...${branch}`;
    const stat = await git(root, ['diff', '--shortstat', range, '--']);
    if (stat.exitCode === 0) return parseShortstat(stat.stdout, range);
  }
  // Item ids are slugs ([a-z0-9-]), nothing a regular expression reads specially.
  const found = await git(root, ['log', '-1', '--format=%H', '-E', `--grep=^tend: merge ${branch}$`]);
  const merge = found.stdout.trim();
  if (found.exitCode !== 0 || !merge) return undefined;
  const stat = await git(root, ['diff', '--shortstat', `${merge}^1`, merge, '--']);
  return stat.exitCode === 0 ? parseShortstat(stat.stdout, merge.slice(0, 12)) : undefined;
}
