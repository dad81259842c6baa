import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { git, read, scratchRepo, tend, tendOk, writeTree } from '../helpers/repo.js';
import { itemField } from '../helpers/engine.js';
import { cloneOf, sharedRepo } from '../helpers/remote.js';

const ITEM = `---
title: Fix login
priority: 3 # the reporter's guess
status: queued
attempts: 0
cost_usd: 0
---
Steps to reproduce.
`;

describe('the item merge driver', () => {
  it('tend init writes .gitattributes and the local driver; tend doctor checks it on a clone', async () => {
    const { remote, first } = await sharedRepo();
    expect(await read(first, '.gitattributes')).toContain('backlog/**/*.md merge=tend');
    expect(await git(first, 'config', '--local', 'merge.tend.driver')).toMatch(/tend\.js' merge-driver %O %A %B %P$/);
    expect(await git(first, 'check-attr', 'merge', 'backlog/triage/x/item.md')).toBe(
      'backlog/triage/x/item.md: merge: tend',
    );

    const dir = (await scratchRepo()) + '/plain-clone';
    await git(remote, 'clone', '--quiet', remote, dir);
    const before = await tend(dir, ['doctor', '--json']);
    const check = (JSON.parse(before.stdout) as { checks: { name: string; ok: boolean; fix?: string }[] }).checks.find(
      (c) => c.name === 'item merge driver',
    );
    expect(check?.ok).toBe(false);
    expect(check?.fix).toMatch(/tend init/);
    const again = await tendOk(dir, ['init']);
    expect(again.stdout).toMatch(/nothing to do/);
    const after = JSON.parse((await tend(dir, ['doctor', '--json'])).stdout) as {
      checks: { name: string; ok: boolean }[];
    };
    expect(after.checks.find((c) => c.name === 'item merge driver')?.ok).toBe(true);
  });

  for (const how of ['--no-rebase', '--rebase'] as const) {
    it(`a plain git pull ${how} merges a priority edited on one clone with phase progress on another`, async () => {
      const { remote, first: laptop } = await sharedRepo({ 'backlog/triage/fix-login/item.md': ITEM });
      const server = await cloneOf(remote);

      // The server moves the item on (a folder move and engine keys) and pushes first.
      await mkdir(path.join(server, 'backlog/research'));
      await git(server, 'mv', 'backlog/triage/fix-login', 'backlog/research/');
      const moved = ITEM.replace('status: queued', 'status: running\nowner: vm:7').replace(
        'attempts: 0',
        'attempts: 1',
      );
      await writeTree(server, { 'backlog/research/fix-login/item.md': moved });
      await git(server, 'commit', '--quiet', '-am', 'tend: fix-login claimed');
      await git(server, 'push', '--quiet');

      // The person raises the priority and adds a line to the text on the laptop.
      const edited = ITEM.replace('priority: 3', 'priority: 1').replace('Steps', 'Seen on Safari 17.\n\nSteps');
      await writeTree(laptop, { 'backlog/triage/fix-login/item.md': edited });
      await git(laptop, 'commit', '--quiet', '-am', 'priority 1');
      await git(laptop, 'pull', '--quiet', how, '--no-edit');

      expect(await git(laptop, 'status', '--porcelain')).toBe('');
      const file = 'backlog/research/fix-login/item.md';
      expect(await itemField(laptop, file, 'priority')).toBe('1');
      expect(await itemField(laptop, file, 'status')).toBe('running');
      expect(await itemField(laptop, file, 'owner')).toBe('vm:7');
      expect(await itemField(laptop, file, 'attempts')).toBe('1');
      const text = await read(laptop, file);
      expect(text).toContain('Seen on Safari 17.');
      expect(text).toContain('Steps to reproduce.');
      const items = (await git(laptop, 'ls-files', 'backlog')).split('\n').filter((f) => f.endsWith('item.md'));
      expect(items).toEqual([file]);
    });
  }

  it('the same text line changed on both clones is a conflict git shows, with both sides kept', async () => {
    const { remote, first } = await sharedRepo({ 'backlog/triage/fix-login/item.md': ITEM });
    const other = await cloneOf(remote);
    await writeTree(other, { 'backlog/triage/fix-login/item.md': ITEM.replace('Steps to', 'Exact steps to') });
    await git(other, 'commit', '--quiet', '-am', 'theirs');
    await git(other, 'push', '--quiet');
    await writeTree(first, { 'backlog/triage/fix-login/item.md': ITEM.replace('Steps to', 'Quick steps to') });
    await git(first, 'commit', '--quiet', '-am', 'ours');
    await expect(git(first, 'pull', '--quiet', '--no-rebase', '--no-edit')).rejects.toThrow(/CONFLICT/);
    const text = await read(first, 'backlog/triage/fix-login/item.md');
    expect(text).toContain('Exact steps to');
    expect(text).toContain('Quick steps to');
    expect(text).toMatch(/^priority: 3/m);
  });
});
