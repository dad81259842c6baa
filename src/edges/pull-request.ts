// Opening a pull request for a finished item's branch: the branch pushed to the remote, then
// `gh pr create` with the body on stdin (an argument array through the process edge, never a
// shell). What goes wrong (no remote, no gh, gh not logged in) comes back as a reason and a fix;
// the item stays done with its branch either way, and nothing is tried again by itself.
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { BACKLOG_DIR, DONE, ITEM_FILE, type Item } from '../core/backlog.js';
import type { Decision } from '../core/decide.js';
import { githubBlobPrefix, pullRequestBody } from '../core/pull-request.js';
import { buildReport, excerpt, type Finished } from '../core/report.js';
import { commitMessage, type Transition } from '../core/transition.js';
import { parseTrailers, readTransition, transitionsFrom, type LoggedTransition } from '../core/transition-log.js';
import { git } from './git.js';
import { transitionCommits } from './history.js';
import { runProcess } from './process.js';
import { changeSize } from './report-sources.js';
import { itemLogDir } from './state-dir.js';
import { findExecutable } from './which.js';

export type PullRequestResult = { ok: true; url: string } | { ok: false; reason: string; fix: string };

export interface PullRequestRequest {
  root: string;
  item: Item;
  /** The branch the pull request goes into: the one tend works on. */
  baseBranch: string;
  /** `git.remote` in ORCHESTRATOR.md; origin when unset. */
  remote?: string;
  /** The transition taking the item to done/, not committed yet (`merge: pr`). */
  pending?: Transition;
  signal?: AbortSignal;
}

const GH_TIMEOUT_MS = 2 * 60_000;

export async function openPullRequest(req: PullRequestRequest): Promise<PullRequestResult> {
  const { root, item } = req;
  const branch = `tend/${item.id}`;
  const retry = `then \`tend pr ${item.id}\``;
  if ((await git(root, ['rev-parse', '--verify', '--quiet', `refs/heads/${branch}`])).exitCode !== 0)
    return { ok: false, reason: `${item.id} has no branch ${branch}`, fix: 'only work built in a worktree has one' };
  const remote = await findRemote(root, req.remote);
  if (!remote.ok) return { ...remote, fix: `${remote.fix}, ${retry}` };
  const gh = findExecutable('gh', root);
  if (!gh)
    return {
      ok: false,
      reason: 'the GitHub CLI (gh) is not on PATH',
      fix: `install it (https://cli.github.com), run \`gh auth login\`, ${retry}`,
    };
  const pushed = await git(root, ['push', '--quiet', remote.name, `refs/heads/${branch}:refs/heads/${branch}`]);
  if (pushed.exitCode !== 0) {
    const why = firstLine(pushed.stderr);
    return { ok: false, reason: `could not push ${branch} to ${remote.name}: ${why}`, fix: `fix the push, ${retry}` };
  }
  const finished = await itemFinished(root, item, req.pending, req.baseBranch);
  const prefix = githubBlobPrefix(remote.url, req.baseBranch) ?? '';
  const args = ['pr', 'create', '--head', branch, '--base', req.baseBranch, '--title', item.fields.title];
  const run = await runProcess({
    command: gh,
    args: [...args, '--body-file', '-'],
    cwd: root,
    input: pullRequestBody(finished, prefix),
    timeoutMs: GH_TIMEOUT_MS,
    stallTimeoutMs: 0,
    logFile: path.join(itemLogDir(root, item.id), 'pr.log'),
    logMaxBytes: 65_536,
    signal: req.signal ?? new AbortController().signal,
  });
  const url = run.stdout
    .split('\n')
    .map((l) => l.trim())
    .reverse()
    .find((l) => /^https?:\/\/\S+$/.test(l));
  if (run.exitCode === 0 && url) return { ok: true, url };
  const why = run.spawnError ?? (firstLine(run.tail) || `exit ${run.exitCode ?? run.stopped ?? 'unknown'}`);
  const fix = `check \`gh auth status\` (log in with \`gh auth login\`), ${retry}`;
  return { ok: false, reason: `gh pr create failed: ${why}`, fix };
}

type Remote = { ok: true; name: string; url: string } | { ok: false; reason: string; fix: string };

async function findRemote(root: string, configured: string | undefined): Promise<Remote> {
  const name = configured ?? 'origin';
  // As configured: `remote get-url` would give the URL after any insteadOf rewrite.
  const url = await git(root, ['config', '--get', `remote.${name}.url`]);
  if (url.exitCode === 0) return { ok: true, name, url: url.stdout.trim() };
  const reason = configured
    ? `git.remote in ORCHESTRATOR.md names ${name}, which is no remote of this repository`
    : 'this repository has no remote named origin to push the branch to';
  return { ok: false, reason, fix: `add it (\`git remote add ${name} <url>\`)` };
}

function firstLine(text: string): string {
  return (
    text
      .split('\n')
      .map((l) => l.trim())
      .find((l) => l !== '') ?? ''
  );
}

/** The item as the report shows a finished one, from its transitions and its artifacts. */
async function itemFinished(
  root: string,
  item: Item,
  pending: Transition | undefined,
  baseBranch: string,
): Promise<Finished> {
  const transitions = transitionsFrom(await transitionCommits(root, { id: item.id }));
  if (pending) transitions.unshift(asLogged(pending));
  const dir = item.dir ?? path.dirname(item.file);
  // Links point where the artifacts are once the item is in done/. The folder is listed now:
  // the last phase's artifact (review.md) came after the item was read.
  const doneDir = `${BACKLOG_DIR}/${DONE}/${item.id}`;
  const names = (await readdir(path.join(root, dir)).catch(() => [] as string[])).filter((n) => n !== ITEM_FILE).sort();
  const artifacts = await Promise.all(
    names.map(async (name) => ({
      path: `${doneDir}/${name}`,
      text: await readFile(path.join(root, dir, name), 'utf8').catch(() => undefined),
    })),
  );
  const f = item.fields;
  const input = {
    id: item.id,
    title: f.title,
    location: DONE,
    status: f.status,
    file: `${doneDir}/item.md`,
    body: item.parsed.frontmatter.body,
    artifacts,
    change: await changeSize(root, item, baseBranch),
  };
  const report = buildReport({ window: { since: '', until: null }, transitions, items: [input], concurrency: null });
  // An item moved to done/ by hand has no transition into done/: only its text is quoted then.
  return report.finished.find((x) => x.id === item.id) ?? movedByHand(input);
}

function movedByHand(item: { id: string; title: string; body: string; artifacts: { path: string }[] }): Finished {
  const cost = { knownUsd: 0, unknown: 0, runs: 0 };
  const artifacts = item.artifacts.map((a) => a.path);
  const { id, title } = item;
  const asked = excerpt(item.body);
  return { id, title, time: '', asked, built: '', review: null, branch: null, pr: null, change: null, artifacts, cost };
}

/** A transition about to be committed, read as `tend log` will read it back. */
function asLogged(t: Transition): LoggedTransition {
  const message = commitMessage(t);
  const [subject = '', ...rest] = message.split('\n');
  const record = {
    commit: '',
    time: new Date().toISOString(),
    author: '',
    subject,
    trailers: parseTrailers(rest.join('\n')),
  };
  return readTransition(record) as LoggedTransition;
}

/** `merge: pr`: the item goes to done/ with its pull request recorded, or with why none was opened. */
export async function withPullRequest(
  req: Omit<PullRequestRequest, 'pending'>,
  settled: Decision,
  warn?: (message: string) => void,
): Promise<Decision> {
  const opened = await openPullRequest({ ...req, pending: settled.transition });
  if (opened.ok) {
    const transition = { ...settled.transition, extra: { ...settled.transition.extra, 'Tend-PR': opened.url } };
    return { ...settled, changes: { ...settled.changes, pr: opened.url }, transition };
  }
  const why = `no pull request was opened: ${opened.reason}; ${opened.fix}`;
  warn?.(why);
  return { ...settled, changes: { ...settled.changes, warning: why } };
}
