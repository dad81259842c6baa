// Clones of one remote running `tend run --once --sync` at the same time over the same 30 items,
// the way several machines work one backlog through the night: afterwards every clone holds every
// item in done/, the agent ran each (item, phase) once, and the remote's history holds each
// transition once.
import { readFile, readdir } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { git, scratchDir, tend } from '../helpers/repo.js';
import { cloneOf, PAIR, pairItem, sharedRepo, transitions } from '../helpers/remote.js';

const ITEMS = 30;
const twice = (list: string[]) => list.filter((x, i) => list.indexOf(x) !== i);

/** For a failure: which clone ran each twice-run (item, phase), each clone's lines of that item and its warnings. */
function whoRan(dups: string[], lines: string[], runs: { stdout: string; stderr: string }[]): string {
  const ids = new Set(dups.map((d) => d.split(' ')[0] ?? ''));
  const mentions = (text: string) =>
    text.split('\n').filter((l) => /^(warning|error)/.test(l) || l.split(/[^\w-]+/).some((word) => ids.has(word)));
  const said = runs.map((r, i) => `clone ${i}:\n${mentions(`${r.stdout}\n${r.stderr}`).join('\n')}`);
  return [`ran: ${lines.filter((l) => dups.some((d) => l.startsWith(`${d} `))).join(', ')}`, ...said].join('\n');
}

async function race(clones: number): Promise<void> {
  const files = Object.fromEntries(
    Array.from({ length: ITEMS }, (_, i) => [`backlog/item-${i}.md`, pairItem(`Item ${i}`)]),
  );
  const { remote } = await sharedRepo({ 'pipelines/pair.md': PAIR, ...files }, { script: 'count-and-sleep.mjs' });
  const dirs = await Promise.all(Array.from({ length: clones }, () => cloneOf(remote)));
  const counts = path.join(await scratchDir(), 'counts');
  const env = { FAKE_COUNT_FILE: counts, FAKE_RANDOM_MS: '300' };
  const runs = await Promise.all(
    dirs.map((dir, i) => tend(dir, ['run', '--once', '--sync', 'origin'], { env: { ...env, FAKE_COUNT_TAG: `${i}` } })),
  );
  for (const run of runs) {
    expect(run.exitCode, run.report).toBe(0);
    // Another clone's move of an item is never reported as a person's.
    expect(run.stderr).not.toMatch(/by hand/);
  }

  const ids = Array.from({ length: ITEMS }, (_, i) => `item-${i}`);
  const lines = (await readFile(counts, 'utf8')).split('\n').filter(Boolean);
  const ran = lines.map((line) => line.replace(/ @\d+$/, ''));
  expect(twice(ran), whoRan(twice(ran), lines, runs)).toEqual([]);
  expect(ran.sort()).toEqual(ids.flatMap((id) => [`${id} build`, `${id} triage`]).sort());

  const history = await transitions(remote);
  expect(twice(history)).toEqual([]);
  const done = history.filter((t) => t.split('|')[1] === 'done').sort();
  expect(done).toEqual(ids.flatMap((id) => [`${id}|done|build`, `${id}|done|triage`]).sort());
  expect(history.filter((t) => t.split('|')[1] === 'claimed')).toHaveLength(2 * ITEMS);

  for (const dir of dirs) {
    const synced = await tend(dir, ['sync', 'origin']);
    expect(synced.exitCode, synced.report).toBe(0);
    expect((await readdir(path.join(dir, 'backlog', 'done'))).sort()).toEqual([...ids].sort());
    expect(await git(dir, 'status', '--porcelain', '--', 'backlog')).toBe('');
  }
}

// Retried once: a race on a loaded machine is the least deterministic test here. The cause of the
// twice-run phase it used to catch (a claim taken back by dropping our own unpushed transition)
// is fixed and replayed deterministically in run-sync.test.ts; a failing attempt prints which
// clone ran what (whoRan), so a second cause would show.
describe('clones running tend run --once --sync at the same time over 30 items', () => {
  it(
    'two clones: every item done on both, each (item, phase) run once and in the history once',
    { retry: 1, timeout: 400_000 },
    async () => {
      await race(2);
    },
  );

  it(
    'three clones: every item done on all three, each (item, phase) run once and in the history once',
    { retry: 1, timeout: 600_000 },
    async () => {
      await race(3);
    },
  );
});
