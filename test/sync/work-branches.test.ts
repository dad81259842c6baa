// Work branches travel: an item's tend/<id> built on one clone is fetched by another, which
// reviews it, merges it or opens its pull request; both clones with commits of their own on it
// is refused, nothing lost. Two clones of a bare remote, the real tend binary, fake agents.
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { git, PACKAGE_ROOT, read, scratchDir, tend, tendOk, writeTree } from '../helpers/repo.js';
import { cloneOf, sharedRepo } from '../helpers/remote.js';

const ITEM = (pipeline: string) =>
  `---\ntitle: Feature\npipeline: ${pipeline}\ncreated: 2026-12-01T00:00:00Z\n---\nBuild the feature.\n`;
// Each phase waits for approval, so each clone runs the one it is meant to.
const HANDED = `---
phases:
  - { name: prd, workspace: worktree, approve: true }
  - { name: build, workspace: worktree, approve: true }
  - { name: review, workspace: worktree, on_reject: build }
---
PRD on one clone, built on another, reviewed on the first.
`;
const BUILD_THEN_REVIEW = `---
phases:
  - { name: build, workspace: worktree, approve: true }
  - { name: review, workspace: worktree, on_reject: build }
---
Built on one clone, reviewed on another.
`;

async function runSynced(dir: string): Promise<void> {
  const run = await tend(dir, ['run', '--once', '--sync', 'origin']);
  expect(run.exitCode, run.report).toBe(0);
}

/**
 * Pull the other clone's transitions, then approve the phase it left waiting. Only main is
 * pulled: the run that follows must fetch the work branch itself.
 */
async function approveAfterPull(dir: string, id: string): Promise<void> {
  await git(dir, 'pull', '--quiet', '--rebase', 'origin', 'main');
  await tendOk(dir, ['approve', id]);
}

describe('work branches travel between clones', () => {
  it('a build on clone A, its review on clone B in the worktree B already had: B sees A’s commit and lands it', async () => {
    const { remote, first: a } = await sharedRepo(
      { 'pipelines/handed.md': HANDED, 'backlog/feature.md': ITEM('handed') },
      { script: 'commit-code.mjs', overrides: { merge: 'ff' } },
    );
    const b = await cloneOf(remote);
    // B writes the PRD: the item's worktree on B, at the base (no code committed).
    await runSynced(b);
    expect(existsSync(path.join(b, '.tend/worktrees/feature'))).toBe(true);
    expect(await git(b, 'ls-files', 'backlog/prd/feature')).toContain('item.md');

    // A builds: its tend/feature starts from the one B pushed, and A's commit reaches the remote.
    await approveAfterPull(a, 'feature');
    await runSynced(a);
    expect(await git(a, 'log', '--format=%s', '-1', 'tend/feature')).toBe('build feature');
    expect(await git(remote, 'rev-parse', 'tend/feature')).toBe(await git(a, 'rev-parse', 'tend/feature'));

    // B reviews, in its worktree from the PRD: the worktree was brought up to A's commit.
    await approveAfterPull(b, 'feature');
    expect(await git(b, 'log', '--format=%s', 'origin/tend/feature')).not.toContain('build feature');
    await runSynced(b);
    const review = await read(b, 'backlog/done/feature/review.md');
    expect(review).toContain('commits: build feature');
    expect(review).toContain('branch: tend/feature');
    expect(review).toMatch(/cwd: .*\.tend\/worktrees\/feature\n/);
    // merge: ff on B put A's code on the remote's main.
    expect(await git(remote, 'show', 'main:src/feature.txt')).toBe('written for feature');
    expect(await git(remote, 'log', '--format=%s', 'main')).toContain('build feature');
  }, 120_000);

  it('both clones with commits of their own on tend/<id>: the review does not run, both are kept, the reason says how to pick', async () => {
    const { remote, first: a } = await sharedRepo(
      { 'pipelines/two.md': BUILD_THEN_REVIEW, 'backlog/feature.md': ITEM('two') },
      { script: 'commit-code.mjs', overrides: { merge: 'ff', retries: 0 } },
    );
    await runSynced(a);
    const built = await git(a, 'rev-parse', 'tend/feature');
    const b = await cloneOf(remote);
    // B's own tend/feature: from the same start as A's build, with a commit of B's.
    const side = path.join(await scratchDir(), 'side');
    await git(b, 'worktree', 'add', '--quiet', '-b', 'tend/feature', side, `${built}~1`);
    await writeTree(side, { 'src/other.txt': 'B was here\n' });
    await git(side, 'add', '--all');
    await git(side, 'commit', '--quiet', '-m', 'B builds too');
    await git(b, 'worktree', 'remove', side);
    const ours = await git(b, 'rev-parse', 'tend/feature');

    await tendOk(b, ['approve', 'feature']);
    const run = await tend(b, ['run', '--once', '--sync', 'origin']);
    expect(run.exitCode, run.report).toBe(0);
    expect(run.stderr).toMatch(/some tend\/<id> branches were not pushed: origin has other commits on them/);
    const item = await read(b, 'backlog/blocked/feature/item.md');
    expect(item).toMatch(/tend\/feature here \(\w{12}\) and on origin \(\w{12}\) each have commits the other lacks/);
    expect(item).toMatch(/git branch -f tend\/feature \w{12}.*git push --force origin tend\/feature/);
    expect(existsSync(path.join(b, 'backlog/blocked/feature/review.md'))).toBe(false);
    // Nothing moved: B's commit and A's are where they were, and main has neither.
    expect(await git(b, 'rev-parse', 'tend/feature')).toBe(ours);
    expect(await git(remote, 'rev-parse', 'tend/feature')).toBe(built);
    expect(await git(remote, 'ls-tree', '--name-only', 'main', 'src/')).toBe('');
  }, 120_000);

  it('tend pr on a clone that did not build: the branch is fetched from the remote and the pull request opened', async () => {
    const built = '---\nphases:\n  - { name: build, workspace: worktree }\n---\nOne build in a worktree.\n';
    const { remote, first: a } = await sharedRepo(
      { 'pipelines/built.md': built, 'backlog/feature.md': ITEM('built') },
      { script: 'commit-code.mjs', overrides: { merge: 'none' } },
    );
    await runSynced(a);
    const b = await cloneOf(remote);
    expect(await git(b, 'branch', '--list', 'tend/feature')).toBe('');
    const log = path.join(await scratchDir(), 'gh.log');
    const gh = path.join(PACKAGE_ROOT, 'test', 'fixtures', 'gh');
    const env = { PATH: `${gh}${path.delimiter}${process.env.PATH ?? ''}`, FAKE_GH_LOG: log };
    const pr = await tend(b, ['pr', 'feature'], { env });
    expect(pr.exitCode, pr.report).toBe(0);
    expect(pr.stdout).toBe('feature: pull request https://github.com/example/project/pull/12');
    const call = JSON.parse((await readFile(log, 'utf8')).trim()) as { args: string[]; input: string };
    expect(call.args.slice(0, 4)).toEqual(['pr', 'create', '--head', 'tend/feature']);
    expect(call.input).toContain('1 file changed, +1 -0');
    expect(await git(b, 'rev-parse', 'tend/feature')).toBe(await git(a, 'rev-parse', 'tend/feature'));
    expect(await read(b, 'backlog/done/feature/item.md')).toContain('pr: https://github.com/example/project/pull/12');
  }, 120_000);
});
