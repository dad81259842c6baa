// Builds in isolated worktrees: parallel builds on their own branches, the user's checkout
// untouched, the merge setting, conflicts, and hooks.
import { existsSync, readdirSync } from 'node:fs';
import { mkdir, readFile, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { item, itemField, runRepo, tendSubjects } from '../helpers/engine.js';
import { startLiveRun, waitFor } from '../helpers/processes.js';
import { git, read, scratchDir, tend, tendJson, writeTree } from '../helpers/repo.js';

const quickFix = (title: string) => item(title, 'pipeline: quick-fix\n');

describe('worktrees', () => {
  it('two builds run at once on their own branches; the main checkout is never touched', async () => {
    const root = await runRepo('commit-code.mjs', {
      'backlog/one.md': quickFix('One'),
      'backlog/two.md': quickFix('Two'),
      'user.txt': 'mine\n',
    });
    await writeTree(root, { 'user.txt': 'mine, edited\n' });
    const result = await tend(root, ['run', '--once', '--concurrency', '2']);
    expect(result.stderr).toBe('');
    expect(result.exitCode).toBe(0);

    for (const id of ['one', 'two']) {
      expect(await git(root, 'log', '--format=%s', '-1', `tend/${id}`)).toBe(`build ${id}`);
      expect(await git(root, 'show', `tend/${id}:src/${id}.txt`)).toBe(`written for ${id}`);
      expect(await itemField(root, `backlog/done/${id}/item.md`, 'branch')).toBe(`tend/${id}`);
      // The build ran in the item's worktree, on its branch.
      const build = await read(root, `backlog/done/${id}/build.md`);
      expect(build).toContain(`cwd: ${path.join(root, '.tend/worktrees', id)}`);
      expect(build).toContain(`branch: tend/${id}`);
      // backlog/ is not checked out in a worktree (its cost grew with done/), yet the branch keeps it.
      expect(build).toContain('backlog/: not checked out');
      expect(await git(root, 'ls-tree', '--name-only', `tend/${id}`, 'backlog')).toBe('backlog');
      // Each review lens ran in a worktree of its own, detached at the commit the build left.
      const review = await read(root, `backlog/done/${id}/review-tests.md`);
      expect(review).toContain(`cwd: ${path.join(root, '.tend/worktrees/.lenses', id, 'tests')}\nbranch: \n`);
      expect(review).toContain(`commits: build ${id}\n`);
    }
    // Each branch holds only its own build commit on top of where it started.
    expect(await git(root, 'show', '--name-only', '--format=', 'tend/one')).toBe('src/one.txt');
    // merge: none (the default) leaves main alone: no code, same branch, the user's edit intact.
    expect(existsSync(path.join(root, 'src'))).toBe(false);
    expect(await git(root, 'branch', '--show-current')).toBe('main');
    expect(await read(root, 'user.txt')).toBe('mine, edited\n');
    expect(await git(root, 'status', '--porcelain')).toBe(' M user.txt');
    // Worktrees are removed once their items are done.
    expect((await git(root, 'worktree', 'list')).trim().split('\n')).toHaveLength(1);
    expect(readdirSync(path.join(root, '.tend/worktrees'))).toEqual([]);
  }, 90_000);

  it('the lenses of a review run side by side at concurrency 1, each in its own worktree at the commit under review', async () => {
    const times = await scratchDir();
    const pipeline =
      '---\nphases:\n  - { name: build, workspace: worktree }\n' +
      '  - { name: review, workspace: worktree, fanout: [one, two, three], on_reject: build }\n---\nLook.\n';
    const root = await runRepo(
      'lens-times.mjs',
      { 'pipelines/look.md': pipeline, 'backlog/thing.md': item('Thing', 'pipeline: look\n') },
      { concurrency: 1 },
    );
    const result = await tend(root, ['run', '--once'], { env: { FAKE_TIMES: times, FAKE_LENSES: 'one,two,three' } });
    expect(result.stderr).toBe('');
    expect(result.exitCode).toBe(0);
    const lenses = ['one', 'two', 'three'];
    const spans = await Promise.all(lenses.map(async (l) => (await read(times, `${l}.times`)).trim().split('\n')));
    expect(Math.max(...spans.map(([start]) => Number(start)))).toBeLessThan(
      Math.min(...spans.map(([, end]) => Number(end))),
    );
    const branchTip = await git(root, 'rev-parse', 'tend/thing');
    for (const lens of lenses) {
      expect(await read(times, `${lens}.cwd`)).toBe(path.join(root, '.tend/worktrees/.lenses/thing', lens));
      expect(await read(times, `${lens}.head`)).toBe(branchTip);
      // backlog/ is in its index but not checked out: a lens's `git commit -a` cannot delete it.
      expect(await read(times, `${lens}.backlog`)).toMatch(/^S backlog\//);
      expect(await read(root, `backlog/done/thing/review-${lens}.md`)).toContain(`through the ${lens} lens`);
    }
    expect(await read(times, 'general.cwd')).toBe(path.join(root, '.tend/worktrees/thing'));
    expect((await git(root, 'worktree', 'list')).trim().split('\n')).toHaveLength(1);
    expect(existsSync(path.join(root, '.tend/worktrees/.lenses'))).toBe(false);
  });

  it('merge: ff brings the branch into main once the item is done', async () => {
    const root = await runRepo('commit-code.mjs', { 'backlog/feature.md': quickFix('Feature') }, { merge: 'ff' });
    const result = await tend(root, ['run', '--once']);
    expect(result.exitCode).toBe(0);
    expect(await read(root, 'src/feature.txt')).toBe('written for feature\n');
    expect(await git(root, 'log', '--format=%s', '-1', '--', 'src/feature.txt')).toBe('build feature');
    expect((await tendSubjects(root)).at(-1)).toBe('tend: feature review -> done');
  });

  it("merge: merge makes a merge commit on main around the user's staged and unstaged changes", async () => {
    const root = await runRepo(
      'commit-code.mjs',
      { 'backlog/feature.md': quickFix('Feature'), 'user.txt': 'mine\n' },
      { merge: 'merge', git: '{ author: "Night Shift <night@example.com>" }' },
    );
    await writeTree(root, { 'user.txt': 'mine, edited\n', 'staged.txt': 'staged by the user\n' });
    await git(root, 'add', 'staged.txt');
    const result = await tend(root, ['run', '--once']);
    expect(result.exitCode).toBe(0);
    expect(await read(root, 'src/feature.txt')).toBe('written for feature\n');
    const merge = await git(root, 'log', '--format=%s', '-1', '--merges');
    expect(merge).toBe('tend: merge tend/feature');
    // The first parent is main's own history; the second, the item's branch.
    const [mergeHash = ''] = (await git(root, 'log', '-1', '--merges', '--format=%H')).split('\n');
    expect(await git(root, 'log', '-1', '--format=%s', `${mergeHash}^2`)).toBe('build feature');
    // Made by tend, so under git.author like its other commits.
    expect(await git(root, 'log', '-1', '--format=%an <%ae> / %cn <%ce>', mergeHash)).toBe(
      'Night Shift <night@example.com> / Night Shift <night@example.com>',
    );
    expect((await tendSubjects(root)).at(-1)).toBe('tend: feature review -> done');
    expect(await git(root, 'status', '--porcelain', '--', 'user.txt', 'staged.txt')).toBe('A  staged.txt\n M user.txt');
    expect(await git(root, 'branch', '--show-current')).toBe('main');
  });

  it('work a build leaves uncommitted is committed on its branch before review starts, so the review sees it and it lands', async () => {
    const root = await runRepo('commit-code.mjs', { 'backlog/sloppy.md': quickFix('Sloppy') }, { merge: 'ff' });
    const result = await tend(root, ['run', '--once'], { env: { FAKE_NO_COMMIT: '1' } });
    expect(result.exitCode).toBe(0);
    expect(await read(root, 'backlog/done/sloppy/review.md')).toContain(
      'commits: tend: work left uncommitted in the worktree of sloppy',
    );
    expect(await read(root, 'src/sloppy.txt')).toBe('written for sloppy\n');
    expect(await git(root, 'log', '--format=%s', '-1', '--', 'src/sloppy.txt')).toBe(
      'tend: work left uncommitted in the worktree of sloppy',
    );
    // tend's `git add -A` in a worktree without backlog/ checked out deleted nothing of it.
    expect(await git(root, 'ls-files', 'backlog/done/sloppy/item.md')).toBe('backlog/done/sloppy/item.md');
    expect(await git(root, 'log', '--format=%s', '--diff-filter=D', '--', 'backlog/')).toBe(
      'tend: sloppy inbox -> triage',
    );
  });

  it('what the review leaves uncommitted nobody reviewed: it stays on the branch and is not merged', async () => {
    const root = await runRepo('commit-code.mjs', { 'backlog/tidy.md': quickFix('Tidy') }, { merge: 'merge' });
    const result = await tend(root, ['run', '--once'], { env: { FAKE_REVIEW_LITTER: '1' } });
    expect(result.exitCode).toBe(0);
    expect(await read(root, 'src/tidy.txt')).toBe('written for tidy\n');
    expect(await git(root, 'ls-files', 'litter-*')).toBe('');
    expect(await git(root, 'ls-tree', '--name-only', 'tend/tidy', 'litter-correctness.txt')).toBe(
      'litter-correctness.txt',
    );
  });

  it("a user's uncommitted edit to a file the branch changes blocks the fast-forward; the edit and the branch are kept", async () => {
    const root = await runRepo(
      'commit-code.mjs',
      { 'backlog/clash.md': quickFix('Clash'), 'shared.txt': 'original\n' },
      { merge: 'merge' },
    );
    await writeTree(root, { 'shared.txt': 'the user is editing this\n' });
    const result = await tend(root, ['run', '--once'], { env: { FAKE_FILE: 'shared.txt' } });
    expect(result.exitCode).toBe(0);
    const reason = await itemField(root, 'backlog/blocked/clash/item.md', 'blocked_reason');
    expect(reason).toMatch(
      /could not fast-forward main: error: Your local changes to the following files would be overwritten by merge: shared.txt/,
    );
    expect(await read(root, 'shared.txt')).toBe('the user is editing this\n');
    expect(await git(root, 'show', 'tend/clash:shared.txt')).toBe('written for clash');
    expect(await git(root, 'log', '--merges', '--format=%s', 'main')).toBe('');
  });

  it('what a review commits itself was not reviewed: the commit the review started from lands, the rest stays on the branch', async () => {
    const root = await runRepo('commit-code.mjs', { 'backlog/late.md': quickFix('Late') }, { merge: 'ff' });
    const result = await tend(root, ['run', '--once'], { env: { FAKE_REVIEW_COMMIT: '1' } });
    expect(result.exitCode).toBe(0);
    expect(await read(root, 'src/late.txt')).toBe('written for late\n');
    expect(await git(root, 'ls-files', 'late-*')).toBe('');
    // Both lenses committed at once, each in its own worktree; both commits are on the branch.
    expect(await git(root, 'ls-tree', '--name-only', 'tend/late', 'late-correctness.txt', 'late-tests.txt')).toBe(
      'late-correctness.txt\nlate-tests.txt',
    );
    expect(result.stderr).toContain('late: the correctness lens changed code; its commits were added to tend/late');
    expect(result.stderr).toContain('late: the tests lens changed code; its commits were added to tend/late');
    expect(await itemField(root, 'backlog/done/late/item.md', 'warning')).toMatch(/tend\/late was kept/);
    expect(await git(root, 'for-each-ref', 'refs/tend/reviewed')).toBe('');
  });

  it("the lens worktrees of a run killed mid-review are collected lens by lens: every lens's commit reaches the branch", async () => {
    const lenses = ['a', 'b', 'c', 'd', 'e', 'f'];
    const wide =
      '---\nphases:\n  - { name: build, artifact: build.md, workspace: worktree }\n' +
      `  - { name: review, artifact: review.md, workspace: worktree, fanout: [${lenses.join(', ')}] }\n---\nWide.\n`;
    const root = await runRepo('commit-code.mjs', {
      'pipelines/wide.md': wide,
      'backlog/cut.md': item('Cut', 'pipeline: wide\n'),
    });
    const hung = await scratchDir();
    const first = startLiveRun(root, { args: ['--once'], env: { FAKE_REVIEW_COMMIT: '1', FAKE_REVIEW_HANG: hung } });
    await waitFor(() => readdirSync(hung).length === lenses.length, 'every lens to commit', 30_000);
    first.child.kill('SIGKILL');
    await first.exited;

    const second = await tend(root, ['run', '--once']);
    expect(second.exitCode, second.stderr).toBe(0);
    const files = lenses.map((l) => `late-${l}.txt`);
    expect((await git(root, 'ls-tree', '--name-only', 'tend/cut', ...files)).split('\n')).toEqual(files);
    for (const l of lenses)
      expect(second.stderr).toContain(`cut: the ${l} lens changed code; its commits were added to tend/cut`);
    expect(await git(root, 'for-each-ref', 'refs/tend/kept')).toBe('');
    expect((await tendSubjects(root)).at(-1)).toBe('tend: cut review -> done');
    expect(existsSync(path.join(root, '.tend/worktrees/.lenses'))).toBe(false);
  });

  it('with no git identity but git.author set, leftovers are committed as git.author and nothing is lost', async () => {
    const root = await runRepo(
      'commit-code.mjs',
      { 'backlog/anon.md': quickFix('Anon') },
      { merge: 'merge', git: '{ author: "Tend Bot <bot@example.com>" }' },
    );
    const noIdentity = {
      GIT_AUTHOR_NAME: '',
      GIT_AUTHOR_EMAIL: '',
      GIT_COMMITTER_NAME: '',
      GIT_COMMITTER_EMAIL: '',
      FAKE_NO_COMMIT: '1',
    };
    const result = await tend(root, ['run', '--once'], { env: noIdentity });
    expect(result.stderr).toBe('');
    expect(result.exitCode).toBe(0);
    expect(await read(root, 'src/anon.txt')).toBe('written for anon\n');
    expect(await git(root, 'log', '-1', '--format=%an <%ae>: %s', '--', 'src/anon.txt')).toBe(
      'Tend Bot <bot@example.com>: tend: work left uncommitted in the worktree of anon',
    );
  });

  it('an agent that moves the worktree off its branch stops the item with the reason; its commits are kept', async () => {
    const root = await runRepo('commit-code.mjs', { 'backlog/drift.md': quickFix('Drift') }, { merge: 'merge' });
    const result = await tend(root, ['run', '--once'], { env: { FAKE_DETACH: '1' } });
    expect(result.exitCode).toBe(0);
    expect(await itemField(root, 'backlog/blocked/drift/item.md', 'blocked_reason')).toMatch(
      /the worktree \.tend\/worktrees\/drift is on a detached HEAD, not tend\/drift \(an agent switched it\)/,
    );
    expect(existsSync(path.join(root, 'detached.txt'))).toBe(false);
    const kept = (await git(root, 'for-each-ref', '--format=%(refname)', 'refs/tend/kept')).split('\n')[0] ?? '';
    expect(kept).toMatch(/^refs\/tend\/kept\/drift-\d+$/);
    expect(await git(root, 'log', '-1', '--format=%s', kept)).toBe('detached work for drift');
  });

  it('merge: merge with a conflict blocks the item and keeps both sides', async () => {
    const root = await runRepo(
      'commit-code.mjs',
      {
        'backlog/first.md': quickFix('First'),
        'backlog/second.md': item('Second', 'pipeline: quick-fix\npriority: 4\n'),
      },
      { merge: 'merge' },
    );
    const result = await tend(root, ['run', '--once', '--concurrency', '2'], {
      env: { FAKE_FILE: 'shared.txt', FAKE_SLOW_ITEM: 'second', FAKE_MARKER: path.join(await scratchDir(), 'started') },
    });
    expect(result.exitCode).toBe(0);
    expect(await read(root, 'shared.txt')).toBe('written for first\n');
    // first landed while second's build ran: tend's own merge is not taken for the agent's commit.
    expect(result.stderr).not.toContain('not made by tend');
    const board = await tendJson<{ items: { id: string; location: string; status: string }[] }>(root, ['status']);
    const second = board.items.find((i) => i.id === 'second');
    expect(second, `${result.stdout}\n${result.stderr}`).toMatchObject({ location: 'blocked' });
    const reason = await itemField(root, 'backlog/blocked/second/item.md', 'blocked_reason');
    expect(reason).toMatch(/merging tend\/second into main conflicts/);
    expect(await git(root, 'show', 'tend/second:shared.txt')).toBe('written for second');
    expect(await git(root, 'status', '--porcelain', '--untracked-files=no')).toBe('');
    expect(existsSync(path.join(root, '.git/MERGE_HEAD'))).toBe(false);
  });

  it('a worktree deleted with .tend/ is recreated from the branch for the next phase', async () => {
    const pipeline = `---\nphases:\n  - { name: build, workspace: worktree, approve: true }\n  - { name: review, workspace: worktree, on_reject: build }\n---\nBuild, pause, review.\n`;
    const root = await runRepo('commit-code.mjs', {
      'pipelines/paused.md': pipeline,
      'backlog/paused.md': item('Paused', 'pipeline: paused\n'),
    });
    await tend(root, ['run', '--once']);
    expect(await itemField(root, 'backlog/build/paused/item.md', 'status')).toBe('waiting');
    await rm(path.join(root, '.tend'), { recursive: true, force: true });
    expect((await tend(root, ['approve', 'paused'])).exitCode).toBe(0);
    const result = await tend(root, ['run', '--once']);
    expect(result.exitCode).toBe(0);
    const review = await read(root, 'backlog/done/paused/review.md');
    expect(review).toContain('branch: tend/paused');
    expect(await git(root, 'log', '--format=%s', '-1', 'tend/paused')).toBe('build paused');
  });

  it('an item moved into done/ by hand gives up its worktree, without a merge, and records its branch', async () => {
    const pipeline = `---\nphases:\n  - { name: build, workspace: worktree, approve: true }\n  - { name: review, workspace: worktree, on_reject: build }\n---\nBuild, pause, review.\n`;
    const root = await runRepo(
      'commit-code.mjs',
      { 'pipelines/paused.md': pipeline, 'backlog/paused.md': item('Paused', 'pipeline: paused\n') },
      { merge: 'merge' },
    );
    await tend(root, ['run', '--once']);
    expect(existsSync(path.join(root, '.tend/worktrees/paused'))).toBe(true);
    await mkdir(path.join(root, 'backlog/done'), { recursive: true });
    await rename(path.join(root, 'backlog/build/paused'), path.join(root, 'backlog/done/paused'));
    expect((await tend(root, ['run', '--once'])).exitCode).toBe(0);
    expect((await tendSubjects(root)).at(-1)).toBe('tend: paused moved by hand: build -> done');
    expect(existsSync(path.join(root, '.tend/worktrees/paused'))).toBe(false);
    expect(await itemField(root, 'backlog/done/paused/item.md', 'branch')).toBe('tend/paused');
    expect(existsSync(path.join(root, 'src/paused.txt'))).toBe(false);
  });

  it("a folder in the worktree's place that is no worktree is set aside, and nothing of the user's is committed from it", async () => {
    const root = await runRepo('commit-code.mjs', { 'backlog/stray.md': quickFix('Stray'), 'a.txt': 'committed\n' });
    await writeTree(root, {
      '.tend/worktrees/stray/sub/note.txt': 'not a worktree\n',
      'a.txt': 'edited by the user\n',
      'secret.env': 'TOKEN=1\n',
    });
    const result = await tend(root, ['run', '--once']);
    expect(result.exitCode).toBe(0);
    expect(existsSync(path.join(root, 'backlog/done/stray/review.md'))).toBe(true);
    expect(await git(root, 'log', '--all', '--format=%s', '--', 'secret.env', 'a.txt')).toBe('test setup');
    expect(await git(root, 'status', '--porcelain', '--', 'a.txt', 'secret.env')).toBe(' M a.txt\n?? secret.env');
    const aside = readdirSync(path.join(root, '.tend/worktrees')).filter((n) => n.startsWith('.orphan-stray-'));
    expect(aside).toHaveLength(1);
    expect(await readFile(path.join(root, '.tend/worktrees', aside[0] ?? '', 'sub/note.txt'), 'utf8')).toBe(
      'not a worktree\n',
    );
  });

  it('a branch left by an earlier item with the same id is not built upon: the item is blocked with the reason', async () => {
    const root = await runRepo('commit-code.mjs', { 'old.txt': 'base\n' });
    await git(root, 'branch', 'tend/feature');
    await git(root, 'worktree', 'add', '--quiet', path.join(root, 'old-tree'), 'tend/feature');
    await writeTree(root, { 'old-tree/old.txt': 'OLD ITEM WORK\n' });
    await git(path.join(root, 'old-tree'), 'commit', '--quiet', '-am', 'old item work');
    await git(root, 'worktree', 'remove', path.join(root, 'old-tree'));
    await writeTree(root, { 'backlog/feature.md': quickFix('Feature') });
    const result = await tend(root, ['run', '--once']);
    expect(result.exitCode).toBe(0);
    expect(await itemField(root, 'backlog/blocked/feature/item.md', 'blocked_reason')).toMatch(
      /a branch tend\/feature already exists but is not this item's/,
    );
    expect(await itemField(root, 'backlog/blocked/feature/item.md', 'branch')).toBeUndefined();
    expect(await git(root, 'log', '-1', '--format=%s', 'tend/feature')).toBe('old item work');
  });

  it('a worktree that cannot be cleaned up does not hold the item back: it is done, with a warning, and the worktree kept', async () => {
    const root = await runRepo('commit-code.mjs', { 'backlog/locked.md': quickFix('Locked') });
    const result = await tend(root, ['run', '--once'], { env: { FAKE_REVIEW_LITTER: '1', FAKE_LOCK_WORKTREE: '1' } });
    expect(result.exitCode).toBe(0);
    // The lens that locked its worktree's index: its worktree is kept, and so is the item's.
    expect(result.stderr).toContain(
      'locked: the worktree .tend/worktrees/.lenses/locked/correctness was kept: could not commit the work left',
    );
    expect(await itemField(root, 'backlog/done/locked/item.md', 'warning')).toMatch(
      /^the worktree \.tend\/worktrees\/locked was kept: could not commit the work left in the correctness lens worktree/,
    );
    const lensDir = path.join(root, '.tend/worktrees/.lenses/locked/correctness');
    expect(await readFile(path.join(lensDir, 'litter-correctness.txt'), 'utf8')).toBe(
      'a review agent should not write code\n',
    );
  });

  it('runs the after_create hook in a new worktree; a failing hook fails the attempt', async () => {
    const state = await scratchDir();
    const marker = path.join(state, 'created');
    const root = await runRepo(
      'commit-code.mjs',
      { 'backlog/hooked.md': quickFix('Hooked') },
      { hooks: `{ after_create: "pwd >> ${marker}" }` },
    );
    expect((await tend(root, ['run', '--once'])).exitCode).toBe(0);
    // The item's worktree, then one per review lens (quick-fix: correctness and tests), side by side.
    const created = (await readFile(marker, 'utf8')).trim().split('\n');
    expect(created[0]).toBe(path.join(root, '.tend/worktrees/hooked'));
    expect(created.slice(1).sort()).toEqual(
      ['correctness', 'tests'].map((lens) => path.join(root, '.tend/worktrees/.lenses/hooked', lens)),
    );

    const failing = await runRepo(
      'commit-code.mjs',
      { 'backlog/hooked.md': quickFix('Hooked') },
      { hooks: '{ after_create: "exit 7" }', retries: 0 },
    );
    expect((await tend(failing, ['run', '--once'])).exitCode).toBe(0);
    expect(await itemField(failing, 'backlog/blocked/hooked/item.md', 'blocked_reason')).toMatch(
      /hook after_create \(`exit 7`\) failed: exit 7/,
    );
  });
  it('an agent in a worktree that commits in the main checkout instead: the run says so, naming the commit', async () => {
    const root = await runRepo('misbehave-by-id.mjs', { 'backlog/commits-on-base.md': quickFix('Commits on base') });
    const result = await tend(root, ['run', '--once'], { env: { FAKE_OUT_DIR: await scratchDir() } });
    expect(result.exitCode).toBe(0);
    expect(result.stderr).toMatch(
      /commits-on-base: the build agent ran in its worktree while 1 commit\(s\) not made by tend/,
    );
    expect(result.stderr).toMatch(/landed on main \([0-9a-f]{7,} agent commit on the base branch\)/);
    // tend's own transitions on main during the phase are not taken for the agent's.
    expect(result.stderr).not.toMatch(/commit\(s\) not made by tend landed on main \([^)]*tend: /);
  });
});
