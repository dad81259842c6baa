// src/edges/git.ts in this process, against real scratch repositories: what a commit of tend's
// takes and what it leaves alone, pathspecs that are file names, the branch and history checks,
// identity errors, and reading an item's history back from its trailers.
import { chmod, mkdir, readdir, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { execa } from 'execa';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  BranchMoved,
  checkCanCommit,
  checkIdentity,
  checkNotRewritten,
  commitPaths,
  committerIdentity,
  literal,
} from '../../src/edges/git.js';
import { itemHistory } from '../../src/edges/history.js';
import { commitMessage } from '../../src/core/transition.js';
import { TendError } from '../../src/core/problem.js';
import { isolateGitForInProcessCalls, repoWithIdentity, repoWithoutIdentity, USER } from '../helpers/in-process.js';
import { cleanEnv, git, writeTree } from '../helpers/repo.js';

isolateGitForInProcessCalls();

const headFiles = async (root: string) =>
  (await git(root, 'show', '--name-only', '--format=', 'HEAD')).split('\n').filter(Boolean).sort();
const staged = async (root: string) => (await git(root, 'diff', '--cached', '--name-only')).split('\n').filter(Boolean);
const subject = async (root: string) => (await git(root, 'log', '-1', '--format=%s')).trim();

describe('commitPaths', () => {
  it("commits only the given paths and leaves the user's staged and unstaged changes as they were", async () => {
    const root = await repoWithIdentity({ 'src/app.ts': 'one\n', 'notes.md': 'notes\n' });
    // The user's work in progress: a new file staged, then edited again; a tracked file edited, unstaged.
    await writeFile(path.join(root, 'src/new.ts'), 'staged version\n');
    await git(root, 'add', 'src/new.ts');
    await writeFile(path.join(root, 'src/new.ts'), 'edited after staging\n');
    await writeFile(path.join(root, 'notes.md'), 'notes, edited\n');
    await writeTree(root, { 'backlog/fix-it.md': '---\ntitle: Fix it\n---\n' });

    expect(await commitPaths(root, ['backlog/fix-it.md'], 'tend: fix-it added\n')).toBe(true);

    expect(await subject(root)).toBe('tend: fix-it added');
    expect(await headFiles(root)).toEqual(['backlog/fix-it.md']);
    expect(await staged(root)).toEqual(['src/new.ts']);
    expect(await git(root, 'show', ':src/new.ts')).toBe('staged version');
    expect(await git(root, 'diff', '--name-only')).toBe('notes.md\nsrc/new.ts');
    expect(await git(root, 'ls-tree', '-r', '--name-only', 'HEAD')).not.toContain('src/new.ts');
  });

  it('returns false when the paths did not change, and commits nothing', async () => {
    const root = await repoWithIdentity({ 'backlog/same.md': 'same\n' });
    const before = await git(root, 'rev-parse', 'HEAD');
    expect(await commitPaths(root, ['backlog/same.md'], 'tend: nothing\n')).toBe(false);
    expect(await git(root, 'rev-parse', 'HEAD')).toBe(before);
  });

  it('commits a removed path as deleted; a path git never knew is nothing to commit', async () => {
    const root = await repoWithIdentity({ 'backlog/gone/item.md': 'x\n', 'keep.md': 'k\n' });
    await rm(path.join(root, 'backlog/gone'), { recursive: true });
    expect(await commitPaths(root, ['backlog/gone'], 'tend: gone removed\n')).toBe(true);
    expect(await git(root, 'show', '--name-status', '--format=', 'HEAD')).toBe('D\tbacklog/gone/item.md');
    expect(await commitPaths(root, ['backlog/never-there.md'], 'tend: never\n')).toBe(false);
  });

  it('takes file names with glob characters literally, on write and on delete', async () => {
    const root = await repoWithIdentity({ 'backlog/a.md': 'a\n', 'backlog/b.md': 'b\n', 'backlog/x.md': 'x\n' });
    // Each of these, read as a pattern, would match a.md, b.md or x.md too.
    const names = ['backlog/[ab].md', 'backlog/*.md', 'backlog/?.md'];
    await writeTree(root, {
      'backlog/a.md': 'a changed\n',
      'backlog/b.md': 'b changed\n',
      'backlog/x.md': 'x changed\n',
    });
    for (const name of names) await writeFile(path.join(root, name), `${name}\n`);

    expect(await commitPaths(root, names, 'tend: globs\n')).toBe(true);
    expect(await headFiles(root)).toEqual([...names].sort());
    expect(await git(root, 'diff', '--name-only')).toBe('backlog/a.md\nbacklog/b.md\nbacklog/x.md');

    await rm(path.join(root, 'backlog/*.md'));
    expect(await commitPaths(root, ['backlog/*.md'], 'tend: star removed\n')).toBe(true);
    expect(await git(root, 'show', '--name-status', '--format=', 'HEAD')).toBe('D\tbacklog/*.md');
    expect(await git(root, 'ls-files', '--', ':(literal)backlog/[ab].md', ':(literal)backlog/?.md')).toBe(
      'backlog/?.md\nbacklog/[ab].md',
    );
  });

  it('passes a magic pathspec through as it is', () => {
    expect(literal('backlog/[x].md')).toBe(':(literal)backlog/[x].md');
    expect(literal(':(glob)backlog/*/fix-it/**')).toBe(':(glob)backlog/*/fix-it/**');
  });

  it('commits as git.author when given one', async () => {
    const root = await repoWithIdentity();
    await writeTree(root, { 'backlog/by.md': 'x\n' });
    await commitPaths(root, ['backlog/by.md'], 'tend: by added\n', { author: 'tend bot <bot@example.com>' });
    expect(await git(root, 'log', '-1', '--format=%an <%ae>|%cn <%ce>')).toBe(
      'tend bot <bot@example.com>|tend bot <bot@example.com>',
    );
  });
});

/** Whether HEAD's tree is the one git itself writes from an index of the whole work tree. */
async function treeAsGitWritesIt(root: string): Promise<boolean> {
  const index = path.join(root, '.git', 'check-index');
  const env = { GIT_INDEX_FILE: index };
  await execa('git', ['add', '--all'], { cwd: root, env });
  const written = (await execa('git', ['write-tree'], { cwd: root, env })).stdout;
  await rm(index);
  return written === (await git(root, 'rev-parse', 'HEAD^{tree}'));
}

describe("a commit built from HEAD's trees (only what it touches)", () => {
  it("moves an item folder between phases: the commit has the move alone, the user's staged file stays staged", async () => {
    const root = await repoWithIdentity({
      'backlog/build/fix-it/item.md': 'one\n',
      'backlog/build/fix-it/notes/old.md': 'old\n',
      'backlog/done/other/item.md': 'other\n',
      'src/app.ts': 'app\n',
    });
    await writeTree(root, { 'src/staged.ts': 'staged\n' });
    await git(root, 'add', 'src/staged.ts');
    await writeFile(path.join(root, 'src/app.ts'), 'app, edited\n');
    await mkdir(path.join(root, 'backlog/review'));
    await rename(path.join(root, 'backlog/build/fix-it'), path.join(root, 'backlog/review/fix-it'));
    await rm(path.join(root, 'backlog/review/fix-it/notes'), { recursive: true });
    await writeTree(root, { 'backlog/review/fix-it/item.md': 'two\n', 'backlog/review/fix-it/a b*.md': 'odd\n' });

    expect(await commitPaths(root, ['backlog/review/fix-it', 'backlog/build/fix-it'], 'tend: moved\n')).toBe(true);
    expect(await git(root, 'show', '--name-status', '--no-renames', '--format=', 'HEAD')).toBe(
      [
        'D\tbacklog/build/fix-it/item.md',
        'D\tbacklog/build/fix-it/notes/old.md',
        'A\tbacklog/review/fix-it/a b*.md',
        'A\tbacklog/review/fix-it/item.md',
      ].join('\n'),
    );
    // backlog/build/ held only the item: git keeps no empty tree.
    expect(await git(root, 'ls-tree', '--name-only', 'HEAD', 'backlog/')).toBe('backlog/done\nbacklog/review');
    expect(await git(root, 'status', '--porcelain')).toBe(' M src/app.ts\nA  src/staged.ts');
    expect(await git(root, 'fsck', '--strict', '--no-progress')).toBe('');
    expect(await git(root, 'log', '-1', '--format=%s|%P', 'HEAD')).toBe(
      `tend: moved|${await git(root, 'rev-parse', 'HEAD~1')}`,
    );
  });

  it("writes trees in git's own order (a file 'a-b', 'a.b' beside a folder 'a'), the same as git's", async () => {
    const root = await repoWithIdentity({ 'keep.md': 'k\n' });
    await writeTree(root, {
      'backlog/x/a/inner.md': '1\n',
      'backlog/x/a-b': '2\n',
      'backlog/x/a.b': '3\n',
      'backlog/x/a0': '4\n',
      'backlog/x/Z.md': '5\n',
      'backlog/x/ü.md': '6\n',
    });
    expect(await commitPaths(root, ['backlog/x'], 'tend: x\n')).toBe(true);
    expect(await treeAsGitWritesIt(root)).toBe(true);
    expect(await git(root, 'fsck', '--strict', '--no-progress')).toBe('');
    expect(await git(root, 'status', '--porcelain')).toBe('');
  });

  it("makes the first commit of an unborn branch, with git commit's reflog entry", async () => {
    const root = await repoWithIdentity({});
    await writeTree(root, { 'backlog/first.md': 'first\n', 'ORCHESTRATOR.md': 'o\n', 'notes.md': 'mine\n' });
    expect(await commitPaths(root, ['backlog/first.md', 'ORCHESTRATOR.md'], 'tend: init\n\n\n')).toBe(true);
    expect(await git(root, 'rev-list', '--count', 'HEAD')).toBe('1');
    // The blank lines at its end go, as git commit's clean-up takes them away.
    expect(await git(root, 'cat-file', 'commit', 'HEAD')).toMatch(/\n\ntend: init$/);
    expect(await git(root, 'reflog', '-1', '--format=%gs', 'main')).toBe('commit (initial): tend: init');
    expect(await git(root, 'status', '--porcelain')).toBe('?? notes.md');
  });

  it('a removed folder leaves HEAD, and a file staged there by hand leaves the index too', async () => {
    const root = await repoWithIdentity({ 'backlog/inbox-item.md': 'x\n', 'keep.md': 'k\n' });
    await writeTree(root, { 'backlog/new-by-hand.md': 'staged, never committed\n' });
    await git(root, 'add', 'backlog/new-by-hand.md');
    await rm(path.join(root, 'backlog/new-by-hand.md'));
    await rm(path.join(root, 'backlog/inbox-item.md'));
    const gone = ['backlog/inbox-item.md', 'backlog/new-by-hand.md'];
    expect(await commitPaths(root, gone, 'tend: gone\n')).toBe(true);
    expect(await git(root, 'ls-tree', '-r', '--name-only', 'HEAD')).toBe('keep.md');
    expect(await git(root, 'status', '--porcelain')).toBe('');
  });

  it('a symlink among the files is left to git commit, which records it as a link', async () => {
    const root = await repoWithIdentity({ 'keep.md': 'k\n' });
    await writeTree(root, { 'backlog/x/item.md': 'x\n' });
    await symlink('item.md', path.join(root, 'backlog/x/link.md'));
    expect(await commitPaths(root, ['backlog/x'], 'tend: x\n')).toBe(true);
    expect(await git(root, 'ls-tree', 'HEAD', 'backlog/x/link.md')).toMatch(/^120000 blob /);
    expect(await git(root, 'status', '--porcelain')).toBe('');
  });
});

const HOOKS = ['pre-commit', 'commit-msg', 'post-commit', 'reference-transaction', 'post-index-change'];

describe("what a commit built from HEAD's trees keeps as git commit did", () => {
  it("runs none of the user's hooks and leaves git commit's reflog entry on HEAD and the branch", async () => {
    const root = await repoWithIdentity({ 'keep.md': 'k\n' });
    for (const hook of HOOKS) {
      await writeFile(path.join(root, '.git/hooks', hook), `#!/bin/sh\necho ran >> "${root}/.ran-${hook}"\n`);
      await chmod(path.join(root, '.git/hooks', hook), 0o755);
    }
    await writeTree(root, { 'backlog/x/item.md': 'x\n' });
    expect(await commitPaths(root, ['backlog/x'], 'tend: x added\n\nTend-Item: x\n')).toBe(true);
    expect((await readdir(root)).filter((name) => name.startsWith('.ran-'))).toEqual([]);
    for (const ref of ['HEAD', 'main']) {
      expect(await git(root, 'reflog', '-1', '--format=%gs', ref)).toBe('commit: tend: x added');
    }
    expect(await git(root, 'log', '-1', '--format=%B')).toBe('tend: x added\n\nTend-Item: x\n');
  });

  it('signs the commit when the user has commit.gpgsign set, as git commit did', async () => {
    const root = await repoWithIdentity({ 'keep.md': 'k\n' });
    const key = path.join(root, '.git', 'signing-key');
    await execa('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'test', '-f', key]);
    await git(root, 'config', 'gpg.format', 'ssh');
    await git(root, 'config', 'user.signingkey', key);
    await git(root, 'config', 'commit.gpgsign', 'true');
    await writeTree(root, { 'backlog/x.md': 'x\n' });
    expect(await commitPaths(root, ['backlog/x.md'], 'tend: x\n')).toBe(true);
    expect(await git(root, 'cat-file', 'commit', 'HEAD')).toMatch(/^gpgsig -----BEGIN SSH SIGNATURE-----$/m);
    await git(root, 'config', 'commit.gpgsign', 'false');
    await writeTree(root, { 'backlog/y.md': 'y\n' });
    expect(await commitPaths(root, ['backlog/y.md'], 'tend: y\n')).toBe(true);
    expect(await git(root, 'cat-file', 'commit', 'HEAD')).not.toMatch(/gpgsig/);
  });

  it('leaves a name in HEAD that is not UTF-8 as it is, and commits one on disk as git add does', async () => {
    const latin1 = Buffer.from('caf\xe9.txt', 'latin1');
    const root = await repoWithIdentity({ 'keep.md': 'k\n' });
    await writeFile(Buffer.concat([Buffer.from(`${root}/`), latin1]), 'mine\n');
    await git(root, 'add', '--all');
    await git(root, 'commit', '--quiet', '-m', 'a Latin-1 name');
    await writeTree(root, { 'backlog/x/item.md': 'x\n' });
    await writeFile(Buffer.concat([Buffer.from(`${root}/backlog/x/`), latin1]), 'notes\n');
    expect(await commitPaths(root, ['backlog/x'], 'tend: x\n')).toBe(true);
    const names = (
      await execa('git', ['ls-tree', '-r', '-z', '--name-only', 'HEAD'], { cwd: root, encoding: 'buffer' })
    ).stdout;
    const expected = [
      Buffer.from('backlog/x/'),
      latin1,
      Buffer.from('\0backlog/x/item.md\0'),
      latin1,
      Buffer.from('\0'),
    ];
    expect(Buffer.compare(Buffer.from(names), Buffer.concat([...expected, Buffer.from('keep.md\0')]))).toBe(0);
    expect(await git(root, 'status', '--porcelain')).toBe('');
  });

  it('a folder with a space in its name that HEAD lacks, beside one it has: nothing of that one is lost', async () => {
    const root = await repoWithIdentity({ 'backlog/zz/keep.md': 'keep\n', 'backlog/zz/b.md': 'b\n', 'top.md': 't\n' });
    await writeTree(root, { 'backlog/new dir/a.md': 'a\n', 'backlog/zz/b.md': 'b, changed\n' });
    expect(await commitPaths(root, ['backlog/new dir/a.md', 'backlog/zz/b.md'], 'tend: two\n')).toBe(true);
    expect(await git(root, 'ls-tree', '-r', '--name-only', 'HEAD')).toBe(
      'backlog/new dir/a.md\nbacklog/zz/b.md\nbacklog/zz/keep.md\ntop.md',
    );
    expect(await treeAsGitWritesIt(root)).toBe(true);
  });

  it('waits for a ref lock another git holds for a moment; one left behind is named, HEAD unmoved', async () => {
    const root = await repoWithIdentity({ 'keep.md': 'k\n' });
    const lock = path.join(root, '.git/refs/heads/main.lock');
    await writeFile(lock, '');
    const released = new Promise((resolve) => setTimeout(resolve, 400)).then(() => rm(lock));
    await writeTree(root, { 'backlog/x.md': 'x\n' });
    expect(await commitPaths(root, ['backlog/x.md'], 'tend: x\n')).toBe(true);
    await released;
    expect(await subject(root)).toBe('tend: x');

    const before = await git(root, 'rev-parse', 'HEAD');
    await writeFile(lock, '');
    await writeTree(root, { 'backlog/y.md': 'y\n' });
    const error = await commitPaths(root, ['backlog/y.md'], 'tend: y\n').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TendError);
    expect((error as TendError).message).toContain('main.lock');
    expect((error as TendError).fix).toContain(`delete ${lock}`);
    expect(await git(root, 'rev-parse', 'HEAD')).toBe(before);
    // The file is on disk and staged: the next commit of tend's takes it.
    await rm(lock);
    expect(await git(root, 'status', '--porcelain')).toBe('A  backlog/y.md');
    expect(await commitPaths(root, ['backlog/y.md'], 'tend: y\n')).toBe(true);
    expect(await git(root, 'status', '--porcelain')).toBe('');
  });

  it("a person committing in a loop meanwhile: each of their commits and each of tend's is in the history", async () => {
    const root = await repoWithIdentity({ 'keep.md': 'k\n' });
    const person = execa(
      'sh',
      [
        '-c',
        'for i in $(seq 1 15); do echo $i > mine.txt; git add mine.txt; ' +
          'until git commit -q -m "mine $i" -- mine.txt 2>/dev/null; do sleep 0.01; done; sleep 0.1; done',
      ],
      { cwd: root, env: cleanEnv(), extendEnv: false },
    );
    const ours: string[] = [];
    for (let i = 1; i <= 15; i++) {
      await writeTree(root, { [`backlog/item-${i}.md`]: `${i}\n` });
      if (await commitPaths(root, [`backlog/item-${i}.md`], `tend: item-${i}\n`)) ours.push(`tend: item-${i}`);
    }
    await person;
    const subjects = (await git(root, 'log', '--format=%s')).split('\n');
    expect(ours).toHaveLength(15);
    for (const s of ours) expect(subjects).toContain(s);
    for (let i = 1; i <= 15; i++) expect(subjects).toContain(`mine ${i}`);
    expect(await git(root, 'status', '--porcelain')).toBe('');
    // A race lost leaves its trees and commit dangling, for git gc: nothing else.
    expect(await git(root, 'fsck', '--strict', '--no-progress', '--no-dangling')).toBe('');
  });
});

describe('the branch tend commits on', () => {
  it('refuses with BranchMoved when HEAD is on another branch or detached, and commits nothing', async () => {
    const root = await repoWithIdentity();
    await git(root, 'switch', '--quiet', '-c', 'elsewhere');
    await writeTree(root, { 'backlog/x.md': 'x\n' });
    const onOther = commitPaths(root, ['backlog/x.md'], 'tend: x\n', { branch: 'main' });
    await expect(onOther).rejects.toThrow(BranchMoved);
    await expect(onOther).rejects.toThrow(/now on elsewhere, not main/);

    await git(root, 'switch', '--quiet', '--detach', 'main');
    await expect(commitPaths(root, ['backlog/x.md'], 'tend: x\n', { branch: 'main' })).rejects.toThrow(
      /a detached HEAD, not main/,
    );
    expect(await git(root, 'rev-list', '--count', '--all')).toBe('1');
    expect(await staged(root)).toEqual([]);
  });

  it('refuses once the branch was rewritten under it (reset past its last commit); commits on top are fine', async () => {
    const root = await repoWithIdentity();
    await writeTree(root, { 'backlog/x.md': '1\n' });
    await commitPaths(root, ['backlog/x.md'], 'tend: x first\n', { branch: 'main' });
    // The user commits on top: tend's last commit is still in the branch.
    await writeTree(root, { 'user.md': 'u\n' });
    await git(root, 'add', 'user.md');
    await git(root, 'commit', '--quiet', '-m', 'user work');
    await checkNotRewritten(root, 'main');
    await writeTree(root, { 'backlog/x.md': '2\n' });
    expect(await commitPaths(root, ['backlog/x.md'], 'tend: x second\n', { branch: 'main' })).toBe(true);

    await git(root, 'reset', '--quiet', '--hard', 'HEAD~2');
    await expect(checkNotRewritten(root, 'main')).rejects.toThrow(BranchMoved);
    await writeTree(root, { 'backlog/x.md': '3\n' });
    const after = commitPaths(root, ['backlog/x.md'], 'tend: x third\n', { branch: 'main' });
    await expect(after).rejects.toThrow(/main was rewritten under tend: it no longer contains tend's last commit/);
    expect(await subject(root)).toBe('tend: x first');
  });

  it('a branch tend has not committed on is never taken for rewritten, even when it is reset', async () => {
    const root = await repoWithIdentity();
    await writeTree(root, { 'backlog/x.md': '1\n' });
    expect(await commitPaths(root, ['backlog/x.md'], 'tend: x first\n', { branch: 'main' })).toBe(true);
    await git(root, 'branch', 'other', 'HEAD~1');
    await git(root, 'checkout', '--quiet', 'other');
    await writeTree(root, { 'user.md': 'a\n' });
    await git(root, 'add', 'user.md');
    await git(root, 'commit', '--quiet', '-m', 'user work');
    await git(root, 'reset', '--quiet', '--hard', 'HEAD~1');
    await expect(checkNotRewritten(root, 'other')).resolves.toBeUndefined();
    await expect(checkNotRewritten(root, 'main')).resolves.toBeUndefined();
  });
});

describe('identity and what stops a commit', () => {
  it('with no identity: checkIdentity and commitPaths say so with the fix; git.author is enough', async () => {
    const root = await repoWithoutIdentity();
    expect(await committerIdentity(root)).toBeUndefined();
    const refused = checkIdentity(root);
    await expect(refused).rejects.toThrow(TendError);
    await expect(refused).rejects.toThrow(/git does not know who is committing/);
    await expect(refused).rejects.toMatchObject({ fix: expect.stringContaining('git config --global user.name') });

    await writeTree(root, { 'backlog/x.md': 'x\n' });
    await expect(commitPaths(root, ['backlog/x.md'], 'tend: x\n')).rejects.toThrow(
      /git does not know who is committing/,
    );
    await expect(checkIdentity(root, 'tend bot <bot@example.com>')).resolves.toBeUndefined();
    expect(await commitPaths(root, ['backlog/x.md'], 'tend: x\n', { author: 'tend bot <bot@example.com>' })).toBe(true);
  });

  it("reads the repository's identity", async () => {
    expect(await committerIdentity(await repoWithIdentity())).toBe(USER);
  });

  it('checkCanCommit refuses in the middle of a merge, naming how to finish or abort it', async () => {
    const root = await repoWithIdentity({ 'file.md': 'base\n' });
    await git(root, 'switch', '--quiet', '-c', 'side');
    await writeTree(root, { 'file.md': 'side\n' });
    await git(root, 'commit', '--quiet', '-am', 'side');
    await git(root, 'switch', '--quiet', 'main');
    await writeTree(root, { 'file.md': 'main\n' });
    await git(root, 'commit', '--quiet', '-am', 'main');
    await git(root, 'merge', '--quiet', 'side').catch(() => undefined); // conflicts, stays in progress
    await expect(checkCanCommit(root)).rejects.toThrow(/a merge is in progress in this checkout/);
    await expect(checkCanCommit(root)).rejects.toMatchObject({ fix: expect.stringContaining('git merge --abort') });
  });
});

describe('itemHistory', () => {
  it("lists an item's commits oldest first with their trailers, and no other item's", async () => {
    const root = await repoWithIdentity();
    const commit = async (id: string, summary: string, extra: object) => {
      await mkdir(path.join(root, 'backlog'), { recursive: true });
      await writeFile(path.join(root, `backlog/${id}.md`), `${summary}\n`);
      await commitPaths(root, [`backlog/${id}.md`], commitMessage({ id, summary, outcome: 'done', ...extra }));
    };
    await commit('fix-it', 'added', { outcome: 'added' });
    await commit('fix-it-2', 'added', { outcome: 'added' }); // an id that starts with the other
    await commit('fix-it', 'triage -> build', {
      phase: 'triage',
      agent: 'fake',
      durationMs: 12_000,
      costUsd: 0.5,
      extra: { 'Tend-Reason': 'a reason: with a colon' },
    });

    const history = await itemHistory(root, 'fix-it');
    expect(history.map((h) => h.subject)).toEqual(['tend: fix-it added', 'tend: fix-it triage -> build']);
    expect(history[0]?.trailers).toEqual({ 'Tend-Item': 'fix-it', 'Tend-Outcome': 'added' });
    expect(history[1]?.trailers).toEqual({
      'Tend-Item': 'fix-it',
      'Tend-Phase': 'triage',
      'Tend-Outcome': 'done',
      'Tend-Agent': 'fake',
      'Tend-Duration': '12s',
      'Tend-Cost-USD': '0.50',
      'Tend-Reason': 'a reason: with a colon',
    });
    expect(history[1]?.author).toBe('Repo User');
    expect(history[1]?.commit).toBe(await git(root, 'rev-parse', 'HEAD'));
    expect(Number.isNaN(Date.parse(history[1]?.date ?? ''))).toBe(false);
    expect(await itemHistory(root, 'fix')).toEqual([]);
  });

  it('is empty in a repository with no commit yet', async () => {
    const root = await repoWithIdentity({});
    expect(await itemHistory(root, 'anything')).toEqual([]);
  });
});
