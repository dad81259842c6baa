import { chmod, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { git, read, tend, tendOk, writeTree } from '../helpers/repo.js';
import { cloneOf, sharedRepo } from '../helpers/remote.js';

const inboxIds = async (root: string) =>
  (await git(root, 'ls-files', 'backlog'))
    .split('\n')
    .filter((f) => /^backlog\/[^/]+\.md$/.test(f))
    .sort();

describe('tend sync', () => {
  it('the same title added on two clones: two items with two ids, on both clones, nothing lost', async () => {
    const { remote, first: a } = await sharedRepo();
    const b = await cloneOf(remote);
    await tendOk(a, ['add', 'Fix login', '--body', 'Seen on Safari.']);
    await tendOk(b, ['add', 'Fix login', '--body', 'Seen on Firefox.']);
    await tendOk(b, ['add', 'Faster search']);
    expect((await tendOk(a, ['sync', 'origin'])).stdout).toMatch(/synced with origin: 0 commit\(s\) in, 1 out/);
    const synced = await tendOk(b, ['sync', 'origin']);
    expect(synced.stdout).toMatch(/renamed fix-login -> fix-login-2/);
    await tendOk(a, ['sync', 'origin']);

    for (const clone of [a, b]) {
      expect(await inboxIds(clone)).toEqual([
        'backlog/faster-search.md',
        'backlog/fix-login-2.md',
        'backlog/fix-login.md',
      ]);
      expect(await read(clone, 'backlog/fix-login.md')).toContain('Seen on Safari.');
      expect(await read(clone, 'backlog/fix-login-2.md')).toContain('Seen on Firefox.');
      expect(await git(clone, 'status', '--porcelain')).toBe('');
    }
    expect(await git(a, 'rev-parse', 'HEAD')).toBe(await git(remote, 'rev-parse', 'main'));
    const renamed = await git(a, 'log', '--format=%s', '--grep=^Tend-Outcome: renamed$');
    expect(renamed).toBe('tend: fix-login-2 renamed from fix-login (origin has another item with that id)');
  });

  it('an item taken in on both clones under the same id: the later folder is renamed', async () => {
    const item = (text: string) => `---\ntitle: Fix login\nstatus: queued\n---\n${text}\n`;
    const { remote, first: a } = await sharedRepo();
    const b = await cloneOf(remote);
    await writeTree(a, { 'backlog/triage/fix-login/item.md': item('from a') });
    await git(a, 'add', '--all');
    await git(a, 'commit', '--quiet', '-m', 'a');
    await writeTree(b, { 'backlog/triage/fix-login/item.md': item('from b') });
    await git(b, 'add', '--all');
    await git(b, 'commit', '--quiet', '-m', 'b');
    await tendOk(a, ['sync', 'origin']);
    await tendOk(b, ['sync', 'origin']);
    expect(await read(b, 'backlog/triage/fix-login/item.md')).toContain('from a');
    expect(await read(b, 'backlog/triage/fix-login-2/item.md')).toContain('from b');
  });

  it('a renamed item takes its work branch, worktree and logs along, and our items that depend on it', async () => {
    const item = (text: string, deps = '') => `---\ntitle: ${text}\nstatus: queued\n${deps}---\n${text}\n`;
    const { remote, first: a } = await sharedRepo();
    const b = await cloneOf(remote);
    await writeTree(a, { 'backlog/build/fix-login/item.md': item('from a') });
    await git(a, 'add', '--all');
    await git(a, 'commit', '--quiet', '-m', 'a');
    await writeTree(b, {
      'backlog/build/fix-login/item.md': item('from b'),
      'backlog/deploy.md': item('deploy', 'depends_on: [fix-login]\n'),
      '.tend/logs/fix-login/build.log': 'built on b\n',
    });
    await git(b, 'add', '--all', 'backlog');
    await git(b, 'commit', '--quiet', '-m', 'b');
    // The work B's agent did in the item's worktree, as a build phase leaves it.
    await git(b, 'worktree', 'add', '--quiet', '-b', 'tend/fix-login', '.tend/worktrees/fix-login');
    await writeTree(b, { '.tend/worktrees/fix-login/code.txt': 'b built this\n' });
    await git(path.join(b, '.tend/worktrees/fix-login'), 'add', 'code.txt');
    await git(path.join(b, '.tend/worktrees/fix-login'), 'commit', '--quiet', '-m', 'build on b');
    await tendOk(a, ['sync', 'origin']);

    expect((await tendOk(b, ['sync', 'origin'])).stdout).toMatch(/renamed fix-login -> fix-login-2/);
    expect(await git(b, 'branch', '--list', 'tend/*', '--format=%(refname:short)')).toBe('tend/fix-login-2');
    expect(await git(b, 'log', '-1', '--format=%s', 'tend/fix-login-2')).toBe('build on b');
    expect(await read(b, '.tend/worktrees/fix-login-2/code.txt')).toBe('b built this\n');
    expect(await git(path.join(b, '.tend/worktrees/fix-login-2'), 'branch', '--show-current')).toBe('tend/fix-login-2');
    expect(await read(b, '.tend/logs/fix-login-2/build.log')).toBe('built on b\n');
    expect(await read(b, 'backlog/deploy.md')).toContain('depends_on: [fix-login-2]');
    const renaming = await git(
      b,
      'log',
      '-1',
      '--format=',
      '--name-only',
      '--no-renames',
      '--grep=^Tend-Outcome: renamed$',
    );
    expect(renaming.split('\n').sort()).toEqual([
      'backlog/build/fix-login-2/item.md',
      'backlog/build/fix-login/item.md',
      'backlog/deploy.md',
    ]);
    expect(await read(b, 'backlog/build/fix-login/item.md')).toContain('from a');
    expect(await git(b, 'status', '--porcelain')).toBe('');
  });

  it('git.remote in ORCHESTRATOR.md is the default; without one, tend sync says how to name one', async () => {
    const { first } = await sharedRepo();
    const none = await tend(first, ['sync']);
    expect(none.exitCode).toBe(1);
    expect(none.stderr).toMatch(/no remote to sync with[\s\S]*fix: .*tend sync origin/);
    const settings = await read(first, 'ORCHESTRATOR.md');
    await writeFile(path.join(first, 'ORCHESTRATOR.md'), settings.replace(/^git: \{\}$/m, 'git: { remote: origin }'));
    await git(first, 'commit', '--quiet', '-am', 'remote');
    expect((await tendOk(first, ['sync'])).stdout).toMatch(/synced with origin: 0 commit\(s\) in, 1 out/);
  });

  it('an unreachable remote keeps the commits; tend status says the clone is ahead and since when', async () => {
    const { remote, first } = await sharedRepo();
    const away = `${remote}.away`;
    await rename(remote, away);
    await tendOk(first, ['add', 'Offline idea']);
    const offline = await tend(first, ['sync', 'origin']);
    expect(offline.exitCode).toBe(1);
    expect(offline.stderr).toMatch(/cannot be reached[\s\S]*kept in this clone/);
    const status = await tendOk(first, ['status']);
    expect(status.stdout).toMatch(/sync: 1 commit\(s\) not on origin\/main since \d{4}-\d\d-\d\d \d\d:\d\d/);
    await rename(away, remote);
    await tendOk(first, ['sync', 'origin']);
    expect(await git(remote, 'log', '-1', '--format=%s', 'main')).toBe('tend: offline-idea added');
    expect((await tendOk(first, ['status'])).stdout).not.toMatch(/not on origin/);
  });

  it('a remote where another clone always pushes first: tend sync gives up, keeps the commit, pushes later', async () => {
    const { remote, first } = await sharedRepo();
    // Each push finds main moved by "another clone" a moment before: the hook commits to main itself.
    const hook = path.join(remote, 'hooks', 'pre-receive');
    const outside = 'unset GIT_QUARANTINE_PATH GIT_OBJECT_DIRECTORY GIT_ALTERNATE_OBJECT_DIRECTORIES';
    const other =
      'c=$(git commit-tree -p main -m "another clone" "main^{tree}") && git update-ref refs/heads/main "$c"';
    await writeFile(hook, `#!/bin/sh\ncat >/dev/null\n${outside}\n${other}\n`);
    await chmod(hook, 0o755);
    await tendOk(first, ['add', 'Outpaced idea']);
    const outpaced = await tend(first, ['sync', 'origin']);
    expect(outpaced.exitCode, outpaced.report).toBe(1);
    expect(outpaced.stderr).toMatch(/took other clones' commits 8 times in a row[\s\S]*kept in this clone/);
    expect(await git(first, 'log', '-1', '--format=%s')).toBe('tend: outpaced-idea added');
    await rename(hook, `${hook}.off`);
    await tendOk(first, ['sync', 'origin']);
    expect(await git(remote, 'log', '-1', '--format=%s', 'main')).toBe('tend: outpaced-idea added');
    expect(await git(remote, 'rev-list', '--count', '--grep=another clone', 'main')).toBe('8');
  }, 60_000);

  it('a remote that refuses the push (a pre-receive hook) is a clear error, not a retry', async () => {
    const { remote, first } = await sharedRepo();
    const hook = path.join(remote, 'hooks', 'pre-receive');
    await writeFile(hook, '#!/bin/sh\necho "main is protected" >&2\nexit 1\n');
    await chmod(hook, 0o755);
    await tendOk(first, ['add', 'Blocked push']);
    const refused = await tend(first, ['sync', 'origin']);
    expect(refused.exitCode).toBe(1);
    expect(refused.stderr).toMatch(/the remote origin refused the push[\s\S]*fix: check your access/);
  });
});
