// src/edges/own-writes.ts on real files: a path counts as the run's own write only while it is
// exactly as the run left it; whatever a person does to it afterwards makes it a change again.
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { expectFolderMove, expectOwnWrite, isOwnWrite } from '../../src/edges/own-writes.js';
import { scratchDir, writeTree } from '../helpers/repo.js';

describe("a run's own writes", () => {
  it('an item.md is its own while it holds the text written, not after a person edits it', async () => {
    const root = await scratchDir();
    const file = 'backlog/triage/a/item.md';
    expectOwnWrite(root, file, { kind: 'text', text: '---\ntitle: A\n---\n' });
    await writeTree(root, { [file]: '---\ntitle: A\n---\n' });
    expect(isOwnWrite(root, file)).toBe(true);
    await writeTree(root, { [file]: '---\ntitle: A\npriority: 1\n---\n' });
    expect(isOwnWrite(root, file)).toBe(false);
    // Nothing recorded for this path, or in this repository: never the run's own.
    expect(isOwnWrite(root, 'backlog/triage/a/notes.md')).toBe(false);
    expect(isOwnWrite(await scratchDir(), file)).toBe(false);
  });

  it('an edit by hand that puts back the text tend wrote is not its own (it differs from what was committed since)', async () => {
    const root = await scratchDir();
    const file = 'backlog/triage/a/item.md';
    const written = '---\ntitle: A\npriority: 3\n---\n';
    expectOwnWrite(root, file, { kind: 'text', text: written });
    await writeTree(root, { [file]: written });
    expect(isOwnWrite(root, file)).toBe(true);
    await writeTree(root, { [file]: written.replace('priority: 3', 'priority: 1') });
    expect(isOwnWrite(root, file)).toBe(false);
    await writeTree(root, { [file]: written });
    expect(isOwnWrite(root, file)).toBe(false);
  });

  it('a file a person writes and then deletes again where tend removed a folder is not its own', async () => {
    const root = await scratchDir();
    expectOwnWrite(root, 'backlog/build/a', { kind: 'absent' });
    await writeTree(root, { 'backlog/build/a/notes.md': 'notes\n' });
    expect(isOwnWrite(root, 'backlog/build/a/notes.md')).toBe(false);
    await rm(path.join(root, 'backlog/build/a'), { recursive: true });
    expect(isOwnWrite(root, 'backlog/build/a/notes.md')).toBe(false);
  });

  it('an inbox file taken in is its own while gone, not once a person writes it again', async () => {
    const root = await scratchDir();
    await writeTree(root, { 'backlog/a.md': '# A\n' });
    expectOwnWrite(root, 'backlog/a.md', { kind: 'absent' });
    await rm(path.join(root, 'backlog/a.md'));
    expect(isOwnWrite(root, 'backlog/a.md')).toBe(true);
    await writeTree(root, { 'backlog/a.md': '# A again\n' });
    expect(isOwnWrite(root, 'backlog/a.md')).toBe(false);
    // Deleted again by hand: the person's, though the path is as tend left it.
    await rm(path.join(root, 'backlog/a.md'));
    expect(isOwnWrite(root, 'backlog/a.md')).toBe(false);
  });

  it('a folder moved keeps its files its own; a file a person adds or edits in it is not', async () => {
    const root = await scratchDir();
    await writeTree(root, { 'backlog/build/a/item.md': '# A\n', 'backlog/build/a/plan/spec.md': 'spec\n' });
    expectFolderMove(root, 'backlog/build/a', 'backlog/review/a');
    expectOwnWrite(root, 'backlog/build/a', { kind: 'absent' });
    await mkdir(path.join(root, 'backlog/review'));
    await rename(path.join(root, 'backlog/build/a'), path.join(root, 'backlog/review/a'));
    expect(isOwnWrite(root, 'backlog/review/a/item.md')).toBe(true);
    expect(isOwnWrite(root, 'backlog/review/a/plan')).toBe(true);
    expect(isOwnWrite(root, 'backlog/review/a/plan/spec.md')).toBe(true);
    expect(isOwnWrite(root, 'backlog/build/a/plan/spec.md')).toBe(true);
    await writeFile(path.join(root, 'backlog/review/a/plan/spec.md'), 'spec, edited by hand\n');
    expect(isOwnWrite(root, 'backlog/review/a/plan/spec.md')).toBe(false);
    await writeTree(root, { 'backlog/review/a/notes.md': 'notes\n', 'backlog/build/a/item.md': '# back\n' });
    expect(isOwnWrite(root, 'backlog/review/a/notes.md')).toBe(false);
    expect(isOwnWrite(root, 'backlog/build/a/item.md')).toBe(false);
  });
});
