// backlog/done/ is listed again only when it changed, and a finished item is read once per
// process (a run reads the backlog after every transition, and done/ only grows). These check
// that nothing a run must see is hidden by that: items entering and leaving done/, and what
// tend itself writes into a finished item.
import { rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { parseItem } from '../../src/core/item.js';
import { readBacklog, writeItemFile } from '../../src/edges/store.js';
import { item } from '../helpers/engine.js';
import { scratchRepo, writeTree } from '../helpers/repo.js';

const PHASES = new Set(['build']);

// A folder changed in the last two seconds is always listed again; each read here happens three
// seconds later by the clock the store sees, so it goes through the cache as a long run does.
beforeEach(() => {
  vi.useFakeTimers({ toFake: ['Date'], now: Date.now() });
});
afterEach(() => {
  vi.useRealTimers();
});

async function read(root: string) {
  vi.setSystemTime(Date.now() + 3000);
  return readBacklog(root, PHASES);
}

const doneIds = async (root: string) =>
  (await read(root)).items
    .filter((i) => i.location === 'done')
    .map((i) => i.id)
    .sort();

describe('finished items read once per process', () => {
  it('an item entering or leaving done/ is seen by the next read', async () => {
    const root = await scratchRepo({
      'backlog/done/old/item.md': item('Old'),
      'backlog/build/new/item.md': item('New'),
    });
    expect(await doneIds(root)).toEqual(['old']);
    await rename(path.join(root, 'backlog/build/new'), path.join(root, 'backlog/done/new'));
    expect(await doneIds(root)).toEqual(['new', 'old']);
    await rm(path.join(root, 'backlog/done/old'), { recursive: true });
    expect(await doneIds(root)).toEqual(['new']);
  });

  it('what tend writes into a finished item is read again', async () => {
    const root = await scratchRepo({ 'backlog/done/kept/item.md': item('Kept') });
    expect((await read(root)).items[0]?.fields.title).toBe('Kept');
    const parsed = parseItem(item('Renamed'), 'backlog/done/kept/item.md', 'kept').item;
    if (!parsed) throw new Error('the test item did not parse');
    await writeItemFile(root, 'backlog/done/kept/item.md', parsed);
    expect((await read(root)).items[0]?.fields.title).toBe('Renamed');
  });

  it('a name that leaves done/ and comes back as another item is read afresh', async () => {
    const root = await scratchRepo({ 'backlog/done/twin/item.md': item('First') });
    expect((await read(root)).items[0]?.fields.title).toBe('First');
    await rm(path.join(root, 'backlog/done/twin'), { recursive: true });
    expect(await doneIds(root)).toEqual([]);
    await writeTree(root, { 'backlog/done/twin/item.md': item('Second') });
    expect((await read(root)).items[0]?.fields.title).toBe('Second');
  });
});
