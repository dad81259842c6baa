// src/edges/set-aside.ts on a real repository: an item folder's work that may not be committed is
// kept in a commit beside the branch and the folder put back as HEAD has it, the person's index
// and everything outside the folder untouched.
import { existsSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { setAside } from '../../src/edges/set-aside.js';
import { git, read, scratchRepo, writeTree } from '../helpers/repo.js';

const DIR = 'backlog/triage/late';

describe('setting aside the work in an item folder', () => {
  it('keeps changed, new and deleted files under a dropped ref and puts the folder back', async () => {
    const root = await scratchRepo({
      [`${DIR}/item.md`]: '---\ntitle: Late\n---\n',
      [`${DIR}/old notes.md`]: 'committed\n',
      'src/app.txt': 'app\n',
    });
    await writeTree(root, {
      [`${DIR}/item.md`]: '---\ntitle: Late\nstatus: edited\n---\n',
      [`${DIR}/triage.md`]: '# triage\n',
      'src/app.txt': 'your change\n',
      'staged.txt': 'staged by you\n',
    });
    await rm(path.join(root, DIR, 'old notes.md'));
    await git(root, 'add', 'staged.txt');
    const head = await git(root, 'rev-parse', 'HEAD');

    const ref = await setAside(root, 'late', DIR, 'tend: late triage work set aside\n');
    expect(ref).toBe('refs/tend/dropped/late/1');
    expect(await git(root, 'rev-parse', `${ref}^`)).toBe(head);
    expect(await git(root, 'diff', '--name-status', 'HEAD', ref!)).toBe(
      [
        'M\tbacklog/triage/late/item.md',
        'D\tbacklog/triage/late/old notes.md',
        'A\tbacklog/triage/late/triage.md',
      ].join('\n'),
    );
    expect(await git(root, 'log', '-1', '--format=%s', ref!)).toBe('tend: late triage work set aside');
    // The folder as committed; your change, your staged file and HEAD as they were.
    expect(await read(root, `${DIR}/item.md`)).toBe('---\ntitle: Late\n---\n');
    expect(await read(root, `${DIR}/old notes.md`)).toBe('committed\n');
    expect(existsSync(path.join(root, DIR, 'triage.md'))).toBe(false);
    expect(await git(root, 'status', '--porcelain')).toBe(' M src/app.txt\nA  staged.txt');
    expect(await git(root, 'rev-parse', 'HEAD')).toBe(head);

    // A second set-aside of the same item takes the next ref.
    await writeTree(root, { [`${DIR}/triage.md`]: 'again\n' });
    expect(await setAside(root, 'late', DIR, 'again\n')).toBe('refs/tend/dropped/late/2');
  });

  it('a folder that matches HEAD, or is gone from both, has nothing to set aside', async () => {
    const root = await scratchRepo({ [`${DIR}/item.md`]: '---\ntitle: Late\n---\n' });
    expect(await setAside(root, 'late', DIR, 'nothing\n')).toBeUndefined();
    expect(await setAside(root, 'gone', 'backlog/build/gone', 'nothing\n')).toBeUndefined();
    expect(await git(root, 'for-each-ref', 'refs/tend/dropped/')).toBe('');
  });

  it('a folder HEAD no longer has is emptied of the work and removed', async () => {
    const root = await scratchRepo({ 'README.md': 'x\n' });
    await writeTree(root, { [`${DIR}/triage.md`]: 'half a triage\n' });
    const ref = await setAside(root, 'late', DIR, 'moved on\n');
    expect(await git(root, 'show', `${ref}:${DIR}/triage.md`)).toBe('half a triage');
    expect(existsSync(path.join(root, DIR))).toBe(false);
  });
});
