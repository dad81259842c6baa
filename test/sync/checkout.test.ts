import { describe, expect, it } from 'vitest';
import { git, read, tend, tendOk, writeTree } from '../helpers/repo.js';
import { cloneOf, sharedRepo } from '../helpers/remote.js';

// A sync rewrites tend's commits aside and moves the checkout like `git checkout` does: your
// work in progress is never stashed, and your staged changes stay staged.
describe('a sync beside your work in progress', () => {
  it('a rebase keeps your staged, unstaged and untracked changes exactly as they were', async () => {
    const { remote, first: a } = await sharedRepo({ 'notes.txt': 'notes\n', 'src/app.txt': 'app\n' });
    const b = await cloneOf(remote);
    await tendOk(a, ['add', 'One']);
    await tendOk(a, ['sync', 'origin']);
    await tendOk(b, ['add', 'Two']);
    await writeTree(b, { 'notes.txt': 'notes, staged\n', 'src/app.txt': 'app, unstaged\n', 'scratch.txt': 'mine\n' });
    await git(b, 'add', 'notes.txt');

    const synced = await tendOk(b, ['sync', 'origin']);
    expect(synced.stdout).toMatch(/synced with origin: 1 commit\(s\) in, 1 out/);
    expect(await git(b, 'status', '--porcelain')).toBe('M  notes.txt\n M src/app.txt\n?? scratch.txt');
    expect(await git(b, 'diff', '--cached', '--name-only')).toBe('notes.txt');
    expect(await read(b, 'src/app.txt')).toBe('app, unstaged\n');
    expect(await git(b, 'stash', 'list')).toBe('');
    // Linear: B's add replayed on top of A's, and that is what the remote has.
    expect(await git(b, 'log', '--format=%s', '-2')).toBe('tend: two added\ntend: one added');
    expect(await git(b, 'rev-parse', 'HEAD')).toBe(await git(remote, 'rev-parse', 'main'));
    expect(await git(b, 'worktree', 'list', '--porcelain')).not.toContain('.sync');
  });

  it('a local change in a file the remote changed stops the sync, names the file, and moves nothing', async () => {
    const { remote, first: a } = await sharedRepo({ 'src/app.txt': 'app\n' });
    const b = await cloneOf(remote);
    await writeTree(a, { 'src/app.txt': 'app, from the laptop\n' });
    await git(a, 'commit', '--quiet', '-am', 'laptop: app');
    await git(a, 'push', '--quiet', 'origin', 'main');
    await tendOk(b, ['add', 'Two']);
    await writeTree(b, { 'src/app.txt': 'app, half-done here\n' });
    const head = await git(b, 'rev-parse', 'HEAD');

    const refused = await tend(b, ['sync', 'origin']);
    expect(refused.exitCode).toBe(1);
    expect(refused.stderr).toContain('src/app.txt');
    expect(refused.stderr).toMatch(/commit or stash those files/);
    expect(await git(b, 'rev-parse', 'HEAD')).toBe(head);
    expect(await read(b, 'src/app.txt')).toBe('app, half-done here\n');
    expect(await git(b, 'stash', 'list')).toBe('');

    await git(b, 'checkout', '--', 'src/app.txt');
    await tendOk(b, ['sync', 'origin']);
    expect(await read(b, 'src/app.txt')).toBe('app, from the laptop\n');
    expect(await git(b, 'status', '--porcelain')).toBe('');
    expect(await git(remote, 'log', '--format=%s', '-2', 'main')).toBe('tend: two added\nlaptop: app');
  });
});
