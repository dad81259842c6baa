// Hostile git states a person's repository can be in, and tend's own git commands failing: what
// a user sees is either a refusal that says how to get out, or a run that carries on for
// everything it can. Nothing is ever left half-written, doubled or committed onto the wrong place.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { cp, mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { item, itemField, runRepo, settingsFor, tendSubjects } from '../helpers/engine.js';
import { commitCount, git, initializedRepo, read, scratchRepo, tend, writeTree } from '../helpers/repo.js';

const ONE_PHASE = '---\nphases:\n  - { name: build }\n---\nOne phase.\n';
const quickFix = (title: string) => item(title, 'pipeline: quick-fix\n');

/** The environment of a person who never set a git identity. */
const NO_IDENTITY = {
  GIT_AUTHOR_NAME: '',
  GIT_AUTHOR_EMAIL: '',
  GIT_COMMITTER_NAME: '',
  GIT_COMMITTER_EMAIL: '',
  EMAIL: '',
};

/** A one-phase repository (`build`, in the checkout) with fake agent `script` and `items` in the inbox. */
function oneRepo(
  script: string,
  items: Record<string, string> = {},
  settings: Record<string, string | number> = {},
): Promise<string> {
  return runRepo(script, { 'pipelines/one.md': ONE_PHASE, ...items }, settings);
}

const oneItem = (title: string) => item(title, 'pipeline: one\n');

async function backlogFiles(root: string): Promise<string[]> {
  return (await readdir(path.join(root, 'backlog'))).sort();
}

/** Make `main` and `other` change f.txt differently, so merging or picking one into the other conflicts. */
async function divergedRepo(): Promise<string> {
  const root = await oneRepo('write-artifact.mjs', { 'backlog/waiting.md': oneItem('Waiting'), 'f.txt': 'base\n' });
  await git(root, 'checkout', '--quiet', '-b', 'other');
  await writeTree(root, { 'f.txt': 'other\n' });
  await git(root, 'commit', '--quiet', '-am', 'other side');
  await git(root, 'checkout', '--quiet', 'main');
  await writeTree(root, { 'f.txt': 'main\n' });
  await git(root, 'commit', '--quiet', '-am', 'main side');
  return root;
}

/** Run git where failing is the point (a conflicting merge); returns its exit code. */
function gitMayFail(cwd: string, ...args: string[]): number {
  try {
    execFileSync('git', args, {
      cwd,
      stdio: 'ignore',
      env: {
        ...process.env,
        GIT_CONFIG_GLOBAL: '/dev/null',
        GIT_CONFIG_NOSYSTEM: '1',
        GIT_AUTHOR_NAME: 'T',
        GIT_AUTHOR_EMAIL: 't@example.com',
        GIT_COMMITTER_NAME: 'T',
        GIT_COMMITTER_EMAIL: 't@example.com',
      },
    });
    return 0;
  } catch (err) {
    return (err as { status?: number }).status ?? 1;
  }
}

/** Run `tend run --once` where the person's operation is in progress; nothing may move or be committed. */
async function refusedDuring(root: string, marker: string, stderr: RegExp): Promise<void> {
  const head = await git(root, 'rev-parse', 'HEAD');
  const result = await tend(root, ['run', '--once']);
  expect(result.stderr).toMatch(stderr);
  expect(result.exitCode).toBe(1);
  expect(existsSync(path.join(root, '.git', marker)), `${marker} is left for the person`).toBe(true);
  expect(await git(root, 'rev-parse', 'HEAD')).toBe(head);
  expect(existsSync(path.join(root, 'backlog/waiting.md')), 'the inbox file was not taken in').toBe(true);
  expect(await tendSubjects(root)).toEqual([]);
}

describe('tend init and tend add when git cannot commit', () => {
  it('tend init without a git identity writes nothing and names the git config commands; after them, init commits everything', async () => {
    const root = await scratchRepo({ 'README.md': '# app\n' });
    const refused = await tend(root, ['init'], { env: NO_IDENTITY });
    expect(refused.exitCode).toBe(1);
    expect(refused.stderr).toMatch(/git does not know who is committing/);
    expect(refused.stderr).toContain(
      'git config --global user.name "Your Name" && git config --global user.email "you@example.com"',
    );
    expect(existsSync(path.join(root, 'ORCHESTRATOR.md'))).toBe(false);
    expect(await git(root, 'status', '--porcelain')).toBe('');

    const again = await tend(root, ['init']);
    expect(again.exitCode).toBe(0);
    expect(again.stdout).toMatch(/committed [0-9a-f]{8}/);
    expect(await git(root, 'log', '-1', '--format=%s')).toBe('tend: init');
    expect(await git(root, 'show', '--name-only', '--format=', 'HEAD')).toContain('ORCHESTRATOR.md');
    expect(await git(root, 'status', '--porcelain')).toBe('');
  });

  it('tend init finds the files an earlier init wrote but could not commit and commits them; a file the user edited stays theirs', async () => {
    const done = await initializedRepo();
    const root = await scratchRepo({ 'README.md': '# app\n' });
    // What an earlier tend init left staged when its commit failed.
    for (const entry of ['ORCHESTRATOR.md', 'pipelines', 'prompts', 'backlog', '.gitignore'])
      await cp(path.join(done, entry), path.join(root, entry), { recursive: true });
    await writeTree(root, { 'prompts/build.md': 'My own build prompt.\n' });
    await git(root, 'add', '--all');

    const result = await tend(root, ['init']);
    expect(result.exitCode).toBe(0);
    expect(result.stdout).toMatch(/found\s+ORCHESTRATOR\.md \(written by an earlier tend init/);
    expect(result.stdout).toMatch(/kept\s+prompts\/build\.md/);
    expect(await git(root, 'log', '-1', '--format=%s')).toBe('tend: init');
    const committed = (await git(root, 'show', '--name-only', '--format=', 'HEAD')).split('\n');
    expect(committed).toEqual(
      expect.arrayContaining([
        'ORCHESTRATOR.md',
        'pipelines/coding.md',
        'prompts/triage.md',
        'backlog/.gitkeep',
        '.gitignore',
      ]),
    );
    expect(committed).not.toContain('prompts/build.md');
    expect(await read(root, 'prompts/build.md')).toBe('My own build prompt.\n');
    expect(await git(root, 'status', '--porcelain')).toBe('A  prompts/build.md');
    expect((await tend(root, ['init'])).stdout).toMatch(/nothing to do/);
  });

  it('tend add with a stale .git/index.lock writes nothing and says how to get out; once it is gone, one add makes one item', async () => {
    const root = await initializedRepo();
    const before = await commitCount(root);
    await writeFile(path.join(root, '.git/index.lock'), '');
    const refused = await tend(root, ['add', 'Fix it']);
    expect(refused.exitCode).toBe(1);
    expect(refused.stderr).toContain(
      "git's index is locked (.git/index.lock): another git is running, or a crashed one left it",
    );
    expect(refused.stderr).toContain('if no git process is running, delete .git/index.lock');
    expect(await backlogFiles(root)).toEqual(['.gitkeep']);

    await rm(path.join(root, '.git/index.lock'));
    const added = await tend(root, ['add', 'Fix it']);
    expect(added.exitCode).toBe(0);
    expect(await backlogFiles(root)).toEqual(['.gitkeep', 'fix-it.md']);
    expect(await commitCount(root)).toBe(before + 1);
  });

  it('tend add run again after its commit failed commits the file it left, rather than adding the item twice', async () => {
    const root = await initializedRepo();
    expect((await tend(root, ['add', 'Fix it', '-p', '2', '--body', 'Steps to reproduce.'])).exitCode).toBe(0);
    // As a failed commit leaves it: the file written, git never told.
    await git(root, 'reset', '--quiet', '--mixed', 'HEAD~1');
    expect(await git(root, 'status', '--porcelain')).toBe('?? backlog/fix-it.md');
    const text = await read(root, 'backlog/fix-it.md');

    const again = await tend(root, ['add', 'Fix it', '-p', '2', '--body', 'Steps to reproduce.']);
    expect(again.exitCode).toBe(0);
    expect(again.stdout).toMatch(/added fix-it \(backlog\/fix-it\.md, written by an earlier tend add/);
    expect(await backlogFiles(root)).toEqual(['.gitkeep', 'fix-it.md']);
    expect(await read(root, 'backlog/fix-it.md')).toBe(text);
    expect(await git(root, 'status', '--porcelain')).toBe('');
    // A different item with the same title is a new one.
    expect((await tend(root, ['add', 'Fix it', '-p', '1'])).stdout).toMatch(/added fix-it-2 /);
  });

  it("tend add with the index locked by a person's long git mv: tend waits for it and adds the item", async () => {
    const root = await initializedRepo();
    await writeFile(path.join(root, '.git/index.lock'), '');
    const released = new Promise((resolve) => setTimeout(resolve, 1000)).then(() =>
      rm(path.join(root, '.git/index.lock')),
    );
    const added = await tend(root, ['add', 'Patient']);
    await released;
    expect(added.stderr).toBe('');
    expect(added.exitCode).toBe(0);
    expect(await git(root, 'log', '-1', '--format=%s')).toBe('tend: patient added');
  });
});

describe('work branches after their work has landed', () => {
  it('merge: ff deletes tend/<id> and its reviewed ref once the work is on main', async () => {
    const root = await runRepo('commit-code.mjs', { 'backlog/feature.md': quickFix('Feature') }, { merge: 'ff' });
    const result = await tend(root, ['run', '--once']);
    expect(result.exitCode).toBe(0);
    expect(await read(root, 'src/feature.txt')).toBe('written for feature\n');
    expect(await git(root, 'branch', '--list', 'tend/*')).toBe('');
    expect(await git(root, 'for-each-ref', 'refs/tend/reviewed')).toBe('');
    expect(await itemField(root, 'backlog/done/feature/item.md', 'branch')).toBeUndefined();
    expect(await itemField(root, 'backlog/done/feature/item.md', 'warning')).toBeUndefined();
  });

  it('merge: merge with git.keep_branches: true keeps tend/<id>; merge: none always keeps it for the pull request', async () => {
    const kept = await runRepo(
      'commit-code.mjs',
      { 'backlog/feature.md': quickFix('Feature') },
      { merge: 'merge', git: '{ keep_branches: true }' },
    );
    expect((await tend(kept, ['run', '--once'])).exitCode).toBe(0);
    expect(await git(kept, 'log', '-1', '--format=%s', 'tend/feature')).toBe('build feature');
    expect(await itemField(kept, 'backlog/done/feature/item.md', 'branch')).toBe('tend/feature');

    const none = await runRepo('commit-code.mjs', { 'backlog/feature.md': quickFix('Feature') }, { merge: 'none' });
    expect((await tend(none, ['run', '--once'])).exitCode).toBe(0);
    expect(await git(none, 'log', '-1', '--format=%s', 'tend/feature')).toBe('build feature');
    expect(existsSync(path.join(none, 'src/feature.txt'))).toBe(false);
  });

  it('a branch that cannot be deleted after its merge is a warning on the done item, never a block', async () => {
    const root = await runRepo(
      'lock-branch-in-review.mjs',
      { 'backlog/stuck.md': quickFix('Stuck') },
      { merge: 'merge' },
    );
    const result = await tend(root, ['run', '--once']);
    expect(result.exitCode).toBe(0);
    expect(await read(root, 'src/stuck.txt')).toBe('written for stuck\n');
    expect(await itemField(root, 'backlog/done/stuck/item.md', 'warning')).toMatch(
      /^tend\/stuck has landed but could not be deleted: .*; delete it with `git branch -D tend\/stuck`$/,
    );
    expect(await git(root, 'log', '-1', '--format=%s', 'tend/stuck')).toBe('build stuck');
  });
});

describe('a repository in the middle of something', () => {
  it('a merge in progress (MERGE_HEAD): tend run refuses, says how to finish or abort it, and leaves the merge as it was', async () => {
    const root = await divergedRepo();
    expect(gitMayFail(root, 'merge', 'other')).not.toBe(0);
    await refusedDuring(root, 'MERGE_HEAD', /a merge is in progress in this checkout[\s\S]*git merge --abort/);
    expect(await git(root, 'diff', '--name-only', '--diff-filter=U')).toBe('f.txt');
  });

  it('a rebase in progress: tend run refuses with how to continue or abort it, not "check out a branch"', async () => {
    const root = await divergedRepo();
    expect(gitMayFail(root, 'rebase', 'other')).not.toBe(0);
    await refusedDuring(root, 'rebase-merge', /a rebase is in progress in this checkout[\s\S]*git rebase --abort/);
  });

  it('a cherry-pick in progress: tend run refuses with how to continue or abort it', async () => {
    const root = await divergedRepo();
    expect(gitMayFail(root, 'cherry-pick', 'other')).not.toBe(0);
    await refusedDuring(
      root,
      'CHERRY_PICK_HEAD',
      /a cherry-pick is in progress in this checkout[\s\S]*git cherry-pick --abort/,
    );
  });

  it('tend add during a merge refuses before writing the file', async () => {
    const root = await divergedRepo();
    expect(gitMayFail(root, 'merge', 'other')).not.toBe(0);
    const result = await tend(root, ['add', 'Not now']);
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toMatch(/a merge is in progress[\s\S]*git merge --abort/);
    expect(existsSync(path.join(root, 'backlog/not-now.md'))).toBe(false);
    expect(existsSync(path.join(root, '.git/MERGE_HEAD'))).toBe(true);
  });

  it('tend approve during a merge refuses before moving the item; the merge and the item stay as they were', async () => {
    const root = await divergedRepo();
    const gated =
      '---\nphases:\n  - { name: prd, artifact: PRD.md, approve: true }\n  - { name: build }\n---\nGated.\n';
    await writeTree(root, {
      'pipelines/gated.md': gated,
      'backlog/prd/w/item.md': item('W', 'pipeline: gated\nstatus: waiting\nattempts: 1\n'),
      'backlog/prd/w/PRD.md': '# PRD\n',
    });
    await git(root, 'add', '--all');
    await git(root, 'commit', '--quiet', '-m', 'a waiting item');
    expect(gitMayFail(root, 'merge', 'other')).not.toBe(0);
    const result = await tend(root, ['approve', 'w']);
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toMatch(/a merge is in progress[\s\S]*git merge --abort/);
    expect(existsSync(path.join(root, 'backlog/prd/w/item.md'))).toBe(true);
    expect(await itemField(root, 'backlog/prd/w/item.md', 'status')).toBe('waiting');
    expect(existsSync(path.join(root, '.git/MERGE_HEAD'))).toBe(true);
  });

  it('a detached HEAD at start: tend run refuses and says to check out a branch', async () => {
    const root = await oneRepo('write-artifact.mjs', { 'backlog/waiting.md': oneItem('Waiting') });
    await git(root, 'checkout', '--quiet', '--detach');
    const result = await tend(root, ['run', '--once']);
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toMatch(/HEAD is detached[\s\S]*check out a branch/);
    expect(existsSync(path.join(root, 'backlog/waiting.md'))).toBe(true);
  });

  it('HEAD detached mid-run by an agent: the run stops with how to get back, and nothing is committed onto the detached HEAD', async () => {
    const root = await oneRepo('detach-checkout.mjs', { 'backlog/drift.md': oneItem('Drift') });
    const result = await tend(root, ['run', '--once']);
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toMatch(/the checkout is now on a detached HEAD, not main[\s\S]*git checkout main/);
    const detached = await git(root, 'rev-parse', 'HEAD');
    expect(await git(root, 'rev-parse', 'main')).toBe(detached);
    expect(await tendSubjects(root)).toEqual(['tend: drift inbox -> build', 'tend: drift build started (attempt 1)']);
    // Back on main, the next run commits the transition that was cut off, under its own message.
    await git(root, 'checkout', '--quiet', 'main');
    const again = await tend(root, ['run', '--once']);
    expect(again.exitCode).toBe(0);
    expect(await tendSubjects(root)).toEqual([
      'tend: drift inbox -> build',
      'tend: drift build started (attempt 1)',
      'tend: drift build -> done',
    ]);
    expect(await git(root, 'status', '--porcelain')).toBe('');
  });
});

describe('the index locked by another git', () => {
  it("held by a person's long git mv for a second: tend run retries and the item goes through", async () => {
    const root = await oneRepo('write-artifact.mjs', { 'backlog/patient.md': oneItem('Patient') });
    await writeFile(path.join(root, '.git/index.lock'), '');
    const released = new Promise((resolve) => setTimeout(resolve, 1000)).then(() =>
      rm(path.join(root, '.git/index.lock')),
    );
    const result = await tend(root, ['run', '--once']);
    await released;
    expect(result.exitCode).toBe(0);
    expect(await tendSubjects(root)).toEqual([
      'tend: patient inbox -> build',
      'tend: patient build started (attempt 1)',
      'tend: patient build -> done',
    ]);
  });

  it('a stale index.lock that never goes: tend run stops with the clear error instead of waiting forever', async () => {
    const root = await oneRepo('write-artifact.mjs', { 'backlog/stale.md': oneItem('Stale') });
    await writeFile(path.join(root, '.git/index.lock'), '');
    const result = await tend(root, ['run', '--once']);
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toContain(
      "git's index is locked (.git/index.lock): another git is running, or a crashed one left it",
    );
    expect(result.stderr).toContain('if no git process is running, delete .git/index.lock');
    expect(existsSync(path.join(root, 'backlog/stale.md'))).toBe(true);
  });

  it('a stale index.lock an agent leaves mid-run: the run stops with the clear error; once deleted, the next run commits what was cut off', async () => {
    const root = await oneRepo('leave-index-lock.mjs', { 'backlog/cut.md': oneItem('Cut') });
    const result = await tend(root, ['run', '--once']);
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toContain(
      "cut: git's index is locked (.git/index.lock): another git is running, or a crashed one left it; if no git process is running, delete .git/index.lock",
    );
    expect(await tendSubjects(root)).toEqual(['tend: cut inbox -> build', 'tend: cut build started (attempt 1)']);
    expect(existsSync(path.join(root, 'backlog/done/cut/build.md')), 'the finished phase is kept').toBe(true);

    await rm(path.join(root, '.git/index.lock'));
    const again = await tend(root, ['run', '--once']);
    expect(again.exitCode).toBe(0);
    expect(await tendSubjects(root)).toEqual([
      'tend: cut inbox -> build',
      'tend: cut build started (attempt 1)',
      'tend: cut build -> done',
    ]);
    expect(await git(root, 'status', '--porcelain')).toBe('');
  });
});

describe('files and folders that are not what tend expects', () => {
  it('a repository with no commit yet (unborn branch): tend run takes items in and makes the first commits', async () => {
    const done = await initializedRepo();
    const root = await scratchRepo();
    for (const entry of ['pipelines', 'prompts', 'backlog', '.gitignore'])
      await cp(path.join(done, entry), path.join(root, entry), { recursive: true });
    await writeTree(root, {
      'ORCHESTRATOR.md': settingsFor('write-artifact.mjs'),
      'pipelines/one.md': ONE_PHASE,
      'backlog/first.md': oneItem('First'),
    });
    const result = await tend(root, ['run', '--once']);
    expect(result.stderr).toBe('');
    expect(result.exitCode).toBe(0);
    expect(await tendSubjects(root)).toEqual([
      'tend: first inbox -> build',
      'tend: first build started (attempt 1)',
      'tend: first build -> done',
    ]);
    // Only backlog/ paths are committed; the person's uncommitted set-up stays theirs.
    expect(await git(root, 'ls-files', 'ORCHESTRATOR.md', 'pipelines')).toBe('');
  });

  it('backlog is a file, not a folder: status, add, run and init say so and how to fix it; the file is untouched', async () => {
    const root = await oneRepo('write-artifact.mjs');
    await rm(path.join(root, 'backlog'), { recursive: true });
    await writeFile(path.join(root, 'backlog'), 'my notes\n');
    for (const args of [['status'], ['add', 'Anything'], ['run', '--once'], ['init']]) {
      const result = await tend(root, args);
      expect(result.exitCode, args.join(' ')).toBe(1);
      expect(result.stderr, args.join(' ')).toMatch(/backlog is a file, not a folder/);
      expect(result.stderr, args.join(' ')).not.toMatch(/\n\s+at /);
    }
    expect(await read(root, 'backlog')).toBe('my notes\n');
  });

  it('.tend is a file: run, init and add say so and how to fix it; the file is untouched', async () => {
    const root = await oneRepo('write-artifact.mjs', { 'backlog/waiting.md': oneItem('Waiting') });
    await rm(path.join(root, '.tend'), { recursive: true, force: true });
    await writeFile(path.join(root, '.tend'), "not tend's\n");
    for (const args of [['run', '--once'], ['init'], ['add', 'Anything']]) {
      const result = await tend(root, args);
      expect(result.exitCode, args.join(' ')).toBe(1);
      expect(result.stderr, args.join(' ')).toMatch(/\.tend is a file, not a folder/);
      expect(result.stderr, args.join(' ')).not.toMatch(/\n\s+at /);
    }
    expect(await read(root, '.tend')).toBe("not tend's\n");
    expect(existsSync(path.join(root, 'backlog/waiting.md'))).toBe(true);
  });
});

/** Mounting needs root on Linux; elsewhere these cases are skipped (they say so in their names). */
const canMount = process.platform === 'linux' && process.getuid?.() === 0;

describe.skipIf(!canMount)('a file system that refuses writes (root on Linux: real mounts)', () => {
  const mounts: string[] = [];
  afterEach(() => {
    for (const dir of mounts.splice(0).reverse()) execFileSync('umount', [dir]);
  });

  function mount(args: string[], dir: string): void {
    execFileSync('mount', [...args, dir]);
    mounts.push(dir);
  }

  it('a read-only backlog/ (a read-only bind mount, since root ignores chmod): run and add fail with the folder named; nothing is lost', async () => {
    const root = await oneRepo('write-artifact.mjs', { 'backlog/frozen.md': oneItem('Frozen') });
    const backlog = path.join(root, 'backlog');
    mount(['--bind', backlog], backlog);
    execFileSync('mount', ['-o', 'remount,bind,ro', backlog]);
    const run = await tend(root, ['run', '--once']);
    expect(run.exitCode).toBe(1);
    expect(run.stderr).toMatch(/backlog.*read-only/);
    expect(run.stderr).not.toMatch(/\n\s+at /);
    const add = await tend(root, ['add', 'Another']);
    expect(add.exitCode).toBe(1);
    expect(add.stderr).toMatch(/backlog.*read-only/);
    expect(await read(root, 'backlog/frozen.md')).toBe(oneItem('Frozen'));
    expect(await tendSubjects(root)).toEqual([]);
  });

  it('a full disk for logs (.tend/logs on a 64 KiB tmpfs): the log is cut short, the phase ends and the item is done', async () => {
    const root = await oneRepo('print-a-lot.mjs', { 'backlog/loud.md': oneItem('Loud') });
    const logs = path.join(root, '.tend/logs');
    await mkdir(logs, { recursive: true });
    mount(['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs'], logs);
    const result = await tend(root, ['run', '--once']);
    expect(result.exitCode).toBe(0);
    expect(await tendSubjects(root)).toEqual([
      'tend: loud inbox -> build',
      'tend: loud build started (attempt 1)',
      'tend: loud build -> done',
    ]);
  });
});
