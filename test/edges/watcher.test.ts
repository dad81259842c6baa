// src/edges/watcher.ts in this process, on a real folder with real file events: what wakes a
// live run, and what inside backlog/done/ does not (a finished item is never watched).
import { afterEach, describe, expect, it } from 'vitest';
import { watchRepo, type RepoWatcher } from '../../src/edges/watcher.js';
import { scratchDir, writeTree } from '../helpers/repo.js';

const FILES = {
  'ORCHESTRATOR.md': '---\nconcurrency: 1\n---\n',
  'backlog/build/fix-it/item.md': '---\ntitle: Fix it\n---\n',
  'backlog/done/old/item.md': '---\ntitle: Old\n---\n',
};

let open: RepoWatcher | undefined;
afterEach(async () => {
  await open?.close();
  open = undefined;
});

async function watching(ignore?: (file: string) => boolean): Promise<{ root: string; watcher: RepoWatcher }> {
  const root = await scratchDir();
  await writeTree(root, FILES);
  const warn = (m: string) => {
    throw new Error(`unexpected warning: ${m}`);
  };
  open = await watchRepo(root, warn, { ignore });
  // chokidar says `ready` a moment before its watches are in place; a run reads the backlog
  // after starting the watcher (and looks again every few seconds), so only a test must wait.
  await new Promise((resolve) => setTimeout(resolve, 200));
  return { root, watcher: open };
}

/** 'woke' if the watcher reports a change within `ms`, else 'quiet'. */
function wokeWithin(watcher: RepoWatcher, ms: number): Promise<'woke' | 'quiet'> {
  return Promise.race([
    watcher.next().then(() => 'woke' as const),
    new Promise<'quiet'>((resolve) => setTimeout(() => resolve('quiet'), ms)),
  ]);
}

/** What the next change says (true: it may be a change by hand), or 'quiet' if none comes within `ms`. */
function nextWithin(watcher: RepoWatcher, ms: number): Promise<boolean | 'quiet'> {
  return Promise.race([watcher.next(), new Promise<'quiet'>((resolve) => setTimeout(() => resolve('quiet'), ms))]);
}

describe('the live watcher', () => {
  it('says a new inbox file alone is no change by hand, and an edited item is one', async () => {
    const { root, watcher } = await watching();
    let next = nextWithin(watcher, 5000);
    await writeTree(root, { 'backlog/new-task.md': '---\ntitle: New\n---\n' });
    expect(await next).toBe(false);
    next = nextWithin(watcher, 5000);
    await writeTree(root, { 'backlog/build/fix-it/item.md': '---\ntitle: Fix it\npriority: 1\n---\n' });
    expect(await next).toBe(true);
    // Both at once: the edit counts.
    await writeTree(root, { 'backlog/other.md': '---\ntitle: Other\n---\n' });
    await writeTree(root, { 'backlog/build/fix-it/item.md': '---\ntitle: Fix it\npriority: 2\n---\n' });
    await new Promise((resolve) => setTimeout(resolve, 1000));
    expect(await nextWithin(watcher, 5000)).toBe(true);
  });

  it('does not wake for a change its owner says it made itself, and wakes for the next', async () => {
    const { root, watcher } = await watching((file) => file.endsWith('mine.md'));
    const quiet = wokeWithin(watcher, 1500);
    await writeTree(root, { 'backlog/build/fix-it/mine.md': 'written by the run\n' });
    expect(await quiet).toBe('quiet');
    const woke = wokeWithin(watcher, 5000);
    await writeTree(root, { 'backlog/build/fix-it/notes.md': 'written by a person\n' });
    expect(await woke).toBe('woke');
  });

  it('wakes the run for a new inbox file, an edited item and a changed ORCHESTRATOR.md', async () => {
    const { root, watcher } = await watching();
    for (const [file, text] of [
      ['backlog/new-task.md', '---\ntitle: New\n---\n'],
      ['backlog/build/fix-it/item.md', '---\ntitle: Fix it\npriority: 1\n---\n'],
      ['ORCHESTRATOR.md', '---\nconcurrency: 2\n---\n'],
    ] as const) {
      const woke = wokeWithin(watcher, 5000);
      await writeTree(root, { [file]: text });
      expect({ file, woke: await woke }).toEqual({ file, woke: 'woke' });
    }
  });

  it('does not watch inside backlog/done/: an edit there is quiet, the next change elsewhere is not', async () => {
    const { root, watcher } = await watching();
    // First prove the watch is live, so the quiet below is the watcher ignoring done/.
    const live = wokeWithin(watcher, 5000);
    await writeTree(root, { 'backlog/build/fix-it/item.md': '---\ntitle: Fix it\npriority: 4\n---\n' });
    expect(await live).toBe('woke');
    const quiet = wokeWithin(watcher, 1500);
    await writeTree(root, { 'backlog/done/old/item.md': '---\ntitle: Old, edited\n---\n' });
    await writeTree(root, { 'backlog/done/old/notes.md': 'notes\n' });
    expect(await quiet).toBe('quiet');
    const woke = wokeWithin(watcher, 5000);
    await writeTree(root, { 'backlog/build/fix-it/item.md': '---\ntitle: Fix it\npriority: 2\n---\n' });
    expect(await woke).toBe('woke');
    // Nothing from done/ came late either: no change is left pending after that one.
    expect(await wokeWithin(watcher, 500)).toBe('quiet');
  });
});
