// src/edges/workspace.ts in this process, against real scratch repositories: an item's worktree
// (made without backlog/, which stays in its index as skip-worktree), its removal, and bringing
// its branch into the base branch with `merge: ff` and `merge: merge`, including a conflict.
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  branchExists,
  closeLensWorktrees,
  closeLeftoverLensWorktrees,
  itemBranch,
  lensWorktreeDir,
  mergeBranch,
  openLensWorktree,
  prepareWorkspace,
  removeWorktree,
  WorkspaceError,
  worktreeDir,
} from '../../src/edges/workspace.js';
import { DEFAULT_SETTINGS, type Settings } from '../../src/core/settings.js';
import { isolateGitForInProcessCalls, repoWithIdentity } from '../helpers/in-process.js';
import { git, scratchDir, writeTree } from '../helpers/repo.js';

isolateGitForInProcessCalls();

const FILES = {
  'src/app.ts': 'export const app = 1;\n',
  'README.md': 'readme\n',
  'backlog/fix-it.md': '---\ntitle: Fix it\n---\n',
  'backlog/done/old/item.md': '---\ntitle: Old\n---\n',
};

function settingsWith(overrides: Partial<Settings> = {}): Settings {
  return { ...DEFAULT_SETTINGS, ...overrides };
}

/** The item's worktree, made by prepareWorkspace as a worktree phase would. */
async function worktreeFor(root: string, id: string, options: { settings?: Settings; reviewing?: boolean } = {}) {
  const settings = options.settings ?? settingsWith();
  const logDir = await scratchDir();
  const signal = new AbortController().signal;
  const recorded = (await branchExists(root, itemBranch(id))) ? itemBranch(id) : undefined;
  return prepareWorkspace(root, id, 'worktree', 'main', settings, logDir, signal, recorded, options.reviewing);
}

async function remove(root: string, id: string, settings = settingsWith()): Promise<void> {
  await removeWorktree(root, id, settings, await scratchDir(), new AbortController().signal);
}

/** Commit `files` in `dir` (a checkout or a worktree) with message `message`. */
async function commitIn(dir: string, files: Record<string, string>, message: string): Promise<string> {
  await writeTree(dir, files);
  await git(dir, 'add', '--', ...Object.keys(files));
  await git(dir, 'commit', '--quiet', '-m', message);
  return git(dir, 'rev-parse', 'HEAD');
}

const subjects = async (root: string, ref: string) =>
  (await git(root, 'log', '--format=%s', ref)).split('\n').filter(Boolean);

describe('prepareWorkspace', () => {
  it("makes the item's worktree on tend/<id> from the base branch, without backlog/ checked out", async () => {
    const root = await repoWithIdentity(FILES);
    const workspace = await worktreeFor(root, 'fix-it');
    const dir = worktreeDir(root, 'fix-it');

    expect(workspace).toMatchObject({ kind: 'worktree', dir, branch: 'tend/fix-it', baseBranch: 'main' });
    expect(workspace.diffCommand).toBe('git diff main...tend/fix-it');
    expect(await git(dir, 'symbolic-ref', 'HEAD')).toBe('refs/heads/tend/fix-it');
    expect(await git(root, 'rev-parse', 'tend/fix-it')).toBe(await git(root, 'rev-parse', 'main'));
    expect(await readFile(path.join(dir, 'src/app.ts'), 'utf8')).toBe(FILES['src/app.ts']);
    expect(existsSync(path.join(dir, 'backlog'))).toBe(false);
    // backlog/ stays in the worktree's index, marked skip-worktree ("S"), so no commit there deletes it.
    expect(await git(dir, 'ls-files', '-v', '--', 'backlog/')).toBe('S backlog/done/old/item.md\nS backlog/fix-it.md');
    expect(await git(dir, 'status', '--porcelain')).toBe('');
    await git(dir, 'add', '--all');
    expect(await git(dir, 'diff', '--cached', '--name-only')).toBe('');
    // The user's checkout is as it was; .tend/ is kept out of every `git add -A`.
    expect(await git(root, 'status', '--porcelain')).toBe('');
    expect(await readFile(path.join(root, '.git/info/exclude'), 'utf8')).toMatch(/^\.tend\/$/m);
  });

  it('workspace repo is the checkout itself', async () => {
    const root = await repoWithIdentity(FILES);
    const signal = new AbortController().signal;
    const repo = await prepareWorkspace(root, 'fix-it', 'repo', 'main', settingsWith(), await scratchDir(), signal);
    expect(repo).toEqual({ kind: 'repo', dir: root, branch: 'main', baseBranch: 'main', diffCommand: 'git diff HEAD' });
    expect(await branchExists(root, 'tend/fix-it')).toBe(false);
  });

  it('commits what an earlier phase left uncommitted before the next one starts', async () => {
    const root = await repoWithIdentity(FILES);
    const { dir } = await worktreeFor(root, 'fix-it');
    await writeTree(dir, { 'src/app.ts': 'export const app = 2;\n' });
    await worktreeFor(root, 'fix-it');
    expect(await subjects(root, 'tend/fix-it')).toEqual([
      'tend: work left uncommitted in the worktree of fix-it',
      'initial',
    ]);
    expect(await git(root, 'show', '--name-only', '--format=', 'tend/fix-it')).toBe('src/app.ts');
  });

  it("refuses a branch tend/<id> that is not this item's", async () => {
    const root = await repoWithIdentity(FILES);
    await git(root, 'branch', 'tend/fix-it');
    const signal = new AbortController().signal;
    const made = prepareWorkspace(root, 'fix-it', 'worktree', 'main', settingsWith(), await scratchDir(), signal);
    await expect(made).rejects.toThrow(WorkspaceError);
    await expect(made).rejects.toThrow(/a branch tend\/fix-it already exists but is not this item's/);
  });

  it('runs after_create in the new worktree; when it fails the worktree is removed and the attempt fails', async () => {
    const root = await repoWithIdentity(FILES);
    const hooks = (after_create: string) => settingsWith({ hooks: { ...DEFAULT_SETTINGS.hooks, after_create } });
    const { dir } = await worktreeFor(root, 'fix-it', { settings: hooks('echo made > made-by-hook.txt') });
    expect(await readFile(path.join(dir, 'made-by-hook.txt'), 'utf8')).toBe('made\n');

    const failing = worktreeFor(root, 'broken', { settings: hooks('exit 7') });
    await expect(failing).rejects.toThrow(WorkspaceError);
    await expect(failing).rejects.toThrow(/hook after_create \(`exit 7`\) failed: exit 7/);
    expect(existsSync(worktreeDir(root, 'broken'))).toBe(false);
  });
});

describe('removeWorktree', () => {
  it('commits the leftovers on the branch, removes the worktree and keeps the branch', async () => {
    const root = await repoWithIdentity(FILES);
    const { dir } = await worktreeFor(root, 'fix-it');
    await writeTree(dir, { 'src/extra.ts': 'left behind\n' });
    await remove(root, 'fix-it');

    expect(existsSync(dir)).toBe(false);
    expect(await git(root, 'worktree', 'list', '--porcelain')).not.toContain(dir);
    expect(await subjects(root, 'tend/fix-it')).toEqual([
      'tend: work left uncommitted in the worktree of fix-it',
      'initial',
    ]);
    expect(await git(root, 'show', 'tend/fix-it:src/extra.ts')).toBe('left behind');
    // backlog/ was never checked out there, and its absence is not committed as a deletion.
    expect(await git(root, 'ls-tree', '-r', '--name-only', 'tend/fix-it', '--', 'backlog')).toBe(
      'backlog/done/old/item.md\nbacklog/fix-it.md',
    );
    await expect(remove(root, 'fix-it')).resolves.toBeUndefined(); // already gone: nothing to do
  });

  it('keeps a HEAD an agent moved off the branch under refs/tend/kept/, never committing onto that branch', async () => {
    const root = await repoWithIdentity(FILES);
    const { dir } = await worktreeFor(root, 'fix-it');
    await git(dir, 'switch', '--quiet', '-c', 'agent-branch');
    await writeTree(dir, { 'src/stray.ts': 'stray\n' });
    await remove(root, 'fix-it');

    expect(existsSync(dir)).toBe(false);
    const kept = (await git(root, 'for-each-ref', '--format=%(refname)', 'refs/tend/kept/')).split('\n');
    expect(kept).toHaveLength(1);
    expect(kept[0]).toMatch(/^refs\/tend\/kept\/fix-it-\d+$/);
    expect(await git(root, 'show', `${kept[0]}:src/stray.ts`)).toBe('stray');
    expect(await git(root, 'rev-parse', 'agent-branch')).toBe(await git(root, 'rev-parse', 'main'));
    expect(await git(root, 'rev-parse', 'tend/fix-it')).toBe(await git(root, 'rev-parse', 'main'));
  });
});

describe('lens worktrees', () => {
  /** What lens work needs: where, with which hooks, and the warnings it gave. */
  function lensContext(root: string, hooks: Partial<Settings['hooks']> = {}, logDir = root) {
    const warnings: string[] = [];
    const settings = settingsWith({ hooks: { ...DEFAULT_SETTINGS.hooks, ...hooks } });
    const signal = new AbortController().signal;
    return { root, id: 'fix-it', settings, logDir, signal, warn: (m: string) => warnings.push(m), warnings };
  }

  const kept = async (root: string) => git(root, 'for-each-ref', '--format=%(refname)', 'refs/tend/kept/');

  it('a lens worktree cut off before it was ready (kill -9 mid-checkout) is removed with nothing committed', async () => {
    const root = await repoWithIdentity(FILES);
    await worktreeFor(root, 'fix-it');
    const tip = await git(root, 'rev-parse', 'tend/fix-it');
    // What `worktree add --no-checkout` leaves when tend dies before the checkout: every file looks deleted.
    const dir = lensWorktreeDir(root, 'fix-it', 'tests');
    await git(root, 'worktree', 'add', '--quiet', '--no-checkout', '--detach', dir, 'tend/fix-it');
    const ctx = lensContext(root);
    expect(await closeLeftoverLensWorktrees(ctx)).toEqual([]);

    expect(existsSync(dir)).toBe(false);
    expect(await git(root, 'rev-parse', 'tend/fix-it')).toBe(tip);
    expect(await kept(root)).toBe('');
    expect(ctx.warnings).toEqual([]);
    expect((await git(root, 'worktree', 'list')).split('\n')).toHaveLength(2);
  });

  it('a lens worktree whose after_create fails is removed without committing what the hook made', async () => {
    const root = await repoWithIdentity(FILES);
    const item = await worktreeFor(root, 'fix-it');
    const tip = await git(root, 'rev-parse', 'tend/fix-it');
    const ctx = lensContext(root, { after_create: 'echo half > half-made.txt; exit 3' }, await scratchDir());
    await expect(openLensWorktree(ctx, item, 'tests')).rejects.toThrow(/hook after_create .* failed: exit 3/);

    expect(existsSync(lensWorktreeDir(root, 'fix-it', 'tests'))).toBe(false);
    expect(await git(root, 'rev-parse', 'tend/fix-it')).toBe(tip);
    expect(await kept(root)).toBe('');
    expect(ctx.warnings).toEqual([]);
  });

  it("what the hooks change (npm install's lock file, a node_modules link) is no lens work; the lens's own is", async () => {
    const root = await repoWithIdentity({ ...FILES, 'package-lock.json': '{}\n' });
    const item = await worktreeFor(root, 'fix-it');
    const tip = await git(root, 'rev-parse', 'tend/fix-it');
    const hooks = { after_create: 'echo rewritten > package-lock.json && ln -s .. node_modules' };
    const ctx = lensContext(root, hooks, await scratchDir());

    // A lens that changes nothing: nothing is carried onto the branch, nothing kept, no warning.
    const idle = await openLensWorktree(ctx, item, 'docs');
    expect(await readFile(path.join(idle.dir, 'package-lock.json'), 'utf8')).toBe('rewritten\n');
    expect(await closeLensWorktrees(ctx, ['docs'])).toEqual([]);
    expect(await git(root, 'rev-parse', 'tend/fix-it')).toBe(tip);
    expect(await kept(root)).toBe('');
    expect(ctx.warnings).toEqual([]);

    // A lens that commits a fix and leaves a note: both go on the branch, the hooks' files do not.
    const busy = await openLensWorktree(ctx, item, 'tests');
    await commitIn(busy.dir, { 'src/app.ts': 'export const app = 3;\n' }, 'lens fix');
    await writeTree(busy.dir, { 'note.txt': 'left by the lens\n' });
    expect(await closeLensWorktrees(ctx, ['tests'])).toEqual([]);
    expect(await subjects(root, `${tip}..tend/fix-it`)).toEqual([
      'tend: work left uncommitted in the tests lens worktree of fix-it',
      'lens fix',
    ]);
    expect(await git(root, 'diff', '--name-only', tip, 'tend/fix-it')).toBe('note.txt\nsrc/app.ts');
    expect(await git(root, 'show', 'tend/fix-it:package-lock.json')).toBe('{}');
    expect(await kept(root)).toBe('');
    expect(ctx.warnings).toEqual([
      'fix-it: the tests lens changed code; its commits were added to tend/fix-it after the commit it reviewed (so never merged)',
    ]);
  });

  it("removing the item's worktree tells of the work a leftover lens worktree held", async () => {
    const root = await repoWithIdentity(FILES);
    const item = await worktreeFor(root, 'fix-it');
    const ctx = lensContext(root, {}, await scratchDir());
    const lens = await openLensWorktree(ctx, item, 'security');
    await writeTree(lens.dir, { 'src/hardened.ts': 'hardened\n' });
    const warnings: string[] = [];
    await removeWorktree(root, 'fix-it', settingsWith(), await scratchDir(), new AbortController().signal, {
      warn: (m) => warnings.push(m),
    });

    expect(await git(root, 'show', 'tend/fix-it:src/hardened.ts')).toBe('hardened');
    expect(warnings).toEqual([
      'fix-it: the security lens changed code; its commits were added to tend/fix-it after the commit it reviewed (so never merged)',
    ]);
  });
});

describe('mergeBranch', () => {
  /** A repository whose item fix-it has one commit on its branch, and main one commit since. */
  async function diverged(mainFiles: Record<string, string> = { 'main-only.md': 'main\n' }) {
    const root = await repoWithIdentity(FILES);
    const { dir } = await worktreeFor(root, 'fix-it');
    const work = await commitIn(dir, { 'src/app.ts': 'export const app = 2;\n' }, 'the fix');
    await commitIn(root, mainFiles, 'meanwhile on main');
    return { root, dir, work };
  }

  it('none: keeps the branch for review and leaves main alone', async () => {
    const { root } = await diverged();
    const before = await git(root, 'rev-parse', 'main');
    expect(await mergeBranch(root, 'fix-it', 'none', 'main')).toEqual({
      ok: true,
      note: 'branch tend/fix-it kept for review',
    });
    expect(await git(root, 'rev-parse', 'main')).toBe(before);
  });

  it("ff: main gets the item's commits rebased on top of it, in a line, and the user's edits stay", async () => {
    const { root, work } = await diverged();
    await writeFile(path.join(root, 'README.md'), 'the user is editing this\n');
    const merged = await mergeBranch(root, 'fix-it', 'ff', 'main');

    expect(merged).toEqual({ ok: true, note: 'fast-forwarded main to tend/fix-it', landed: work });
    expect(await subjects(root, 'main')).toEqual(['the fix', 'meanwhile on main', 'initial']);
    expect(await git(root, 'rev-list', '--merges', '--count', 'main')).toBe('0');
    expect(await readFile(path.join(root, 'src/app.ts'), 'utf8')).toBe('export const app = 2;\n');
    expect(await git(root, 'status', '--porcelain')).toBe(' M README.md');
    expect(await git(root, 'rev-parse', 'tend/fix-it')).toBe(work); // the branch is left as it was
  });

  it('merge: a merge commit with main as its first parent and the branch as its second', async () => {
    const { root, work } = await diverged();
    const mainBefore = await git(root, 'rev-parse', 'main');
    const merged = await mergeBranch(root, 'fix-it', 'merge', 'main', 'tend bot <bot@example.com>');

    expect(merged).toEqual({ ok: true, note: 'merged tend/fix-it into main', landed: work });
    expect(await git(root, 'log', '-1', '--format=%s|%P|%an', 'main')).toBe(
      `tend: merge tend/fix-it|${mainBefore} ${work}|tend bot`,
    );
    expect(await readFile(path.join(root, 'src/app.ts'), 'utf8')).toBe('export const app = 2;\n');
    expect(await readFile(path.join(root, 'main-only.md'), 'utf8')).toBe('main\n');
  });

  it.each(['merge', 'ff'] as const)('%s: a conflict changes nothing and says why', async (mode) => {
    const { root, work } = await diverged({ 'src/app.ts': 'export const app = 3;\n' });
    const mainBefore = await git(root, 'rev-parse', 'main');
    const merged = await mergeBranch(root, 'fix-it', mode, 'main');

    expect(merged.ok).toBe(false);
    const reason = merged.ok ? '' : merged.reason;
    expect(reason).toMatch(
      mode === 'merge'
        ? /^merging tend\/fix-it into main conflicts: CONFLICT \(content\): Merge conflict in src\/app\.ts/
        : /^tend\/fix-it does not rebase cleanly onto main: .*src\/app\.ts.*; the branch is kept as it was$/,
    );
    expect(await git(root, 'rev-parse', 'main')).toBe(mainBefore);
    expect(await git(root, 'rev-parse', 'tend/fix-it')).toBe(work);
    expect(await git(root, 'status', '--porcelain')).toBe('');
    expect(await readFile(path.join(root, 'src/app.ts'), 'utf8')).toBe('export const app = 3;\n');
  });

  it('lands the commit the review saw, never one an agent added after it', async () => {
    const root = await repoWithIdentity(FILES);
    const { dir } = await worktreeFor(root, 'fix-it');
    const reviewed = await commitIn(dir, { 'src/app.ts': 'export const app = 2;\n' }, 'the fix');
    await worktreeFor(root, 'fix-it', { reviewing: true });
    await commitIn(dir, { 'src/late.ts': 'unreviewed\n' }, 'after the review');

    expect(await mergeBranch(root, 'fix-it', 'ff', 'main')).toMatchObject({ ok: true, landed: reviewed });
    expect(await git(root, 'rev-parse', 'main')).toBe(reviewed);
    expect(existsSync(path.join(root, 'src/late.ts'))).toBe(false);
  });

  it('refuses when the checkout is not on the base branch', async () => {
    const { root } = await diverged();
    await git(root, 'switch', '--quiet', '-c', 'other');
    expect(await mergeBranch(root, 'fix-it', 'ff', 'main')).toEqual({
      ok: false,
      reason: 'the checkout is on other, not main; merge tend/fix-it yourself',
    });
  });
});
