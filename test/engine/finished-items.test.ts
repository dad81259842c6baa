// backlog/done/ only grows, so a snapshot knows its items by their folder names: none of their
// files is read unless asked for, and the folder is listed again only when it changed. These
// check that nothing a run or a command needs is lost by that: items entering and leaving done/,
// duplicate ids, ids given to new items, and bad files there, which only a full read finds.
import { rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { readBacklog, readDoneItems, type ReadOptions } from '../../src/edges/store.js';
import { item } from '../helpers/engine.js';
import { scratchRepo, writeTree } from '../helpers/repo.js';

const PHASES = new Set(['build']);

// A folder changed in the last two seconds is always listed again; each read here happens three
// seconds later by the clock the store sees, so it goes through the listing cache as a long run does.
beforeEach(() => {
  vi.useFakeTimers({ toFake: ['Date'], now: Date.now() });
});
afterEach(() => {
  vi.useRealTimers();
});

async function read(root: string, options: ReadOptions = {}) {
  vi.setSystemTime(Date.now() + 3000);
  return readBacklog(root, PHASES, options);
}

const sorted = (ids: Iterable<string>) => [...ids].sort();

describe('finished items known by their ids', () => {
  it('an item entering or leaving done/ is seen by the next read, and none of them is read', async () => {
    const root = await scratchRepo({
      'backlog/done/old/item.md': item('Old'),
      'backlog/build/new/item.md': item('New'),
    });
    const first = await read(root);
    expect(sorted(first.done)).toEqual(['old']);
    expect(first.items.map((i) => i.id)).toEqual(['new']);
    await rename(path.join(root, 'backlog/build/new'), path.join(root, 'backlog/done/new'));
    expect(sorted((await read(root)).done)).toEqual(['new', 'old']);
    await rm(path.join(root, 'backlog/done/old'), { recursive: true });
    const last = await read(root);
    expect(sorted(last.done)).toEqual(['new']);
    expect(last.items).toEqual([]);
  });

  it('a broken item.md in done/ is counted by its id; only a full read lists it as invalid', async () => {
    const root = await scratchRepo({
      'backlog/done/fine/item.md': item('Fine'),
      'backlog/done/broken/item.md': '---\npriority: high\n---\n# Broken\n',
    });
    const byId = await read(root);
    expect(sorted(byId.done)).toEqual(['broken', 'fine']);
    expect(byId.invalid).toEqual([]);

    const full = await read(root, { finished: 'read' });
    expect(full.items.map((i) => `${i.location}/${i.id}`)).toEqual(['done/fine']);
    expect(sorted(full.done)).toEqual(['fine']);
    expect(full.invalid.map((i) => i.path)).toEqual(['backlog/done/broken/item.md']);

    const one = await readDoneItems(root, ['broken', 'fine', 'gone']);
    expect(one.items.map((i) => i.fields.title)).toEqual(['Fine']);
    expect(one.invalid[0]?.problems[0]?.message).toMatch(/found "high"/);
  });

  it('what a listing alone shows is still reported: a name that is no id, a file directly in done/', async () => {
    const root = await scratchRepo({
      'backlog/done/Not An Id/item.md': item('Odd'),
      'backlog/done/stray.md': '# Stray\n',
      'backlog/done/ok/item.md': item('Ok'),
    });
    const snapshot = await read(root);
    expect(sorted(snapshot.done)).toEqual(['ok']);
    expect(snapshot.invalid.map((i) => i.path).sort()).toEqual(['backlog/done/Not An Id', 'backlog/done/stray.md']);
  });

  it('an id in done/ that an item in a phase also has: both are set aside as invalid', async () => {
    const root = await scratchRepo({
      'backlog/done/twin/item.md': item('Finished twin'),
      'backlog/build/twin/item.md': item('Building twin'),
      'backlog/done/alone/item.md': item('Alone'),
    });
    const snapshot = await read(root);
    expect(sorted(snapshot.done)).toEqual(['alone']);
    expect(snapshot.items).toEqual([]);
    expect(snapshot.invalid.map((i) => i.path).sort()).toEqual([
      'backlog/build/twin/item.md',
      'backlog/done/twin/item.md',
    ]);
    expect(snapshot.invalid.find((i) => i.location === 'build')?.problems[0]?.message).toBe(
      'duplicate id twin: also at backlog/done/twin/item.md',
    );
  });

  it('an inbox file named like a finished item gets an id of its own', async () => {
    const root = await scratchRepo({ 'backlog/done/fix-login/item.md': item('Fix login') });
    await writeTree(root, { 'backlog/Fix Login.md': '# Fix login, again\n' });
    const snapshot = await read(root);
    expect(snapshot.items.map((i) => i.id)).toEqual(['fix-login-2']);
  });
});
