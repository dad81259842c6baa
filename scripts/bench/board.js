// `tend board` in `npm run bench`: the first load of the board, as a browser makes it (the page,
// its script and style, then the board's JSON), from a freshly started `tend board`, and the
// same JSON again once warm. Measured on the size's repository (finished items, done/ paged) and
// on one holding as many items in work (inbox and phase folders), where every card is drawn.
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { ENV, itemText, median, sh } from './tools.js';
import { TEND } from './tools.js';

const { fetch } = globalThis;

/** Write `count` items spread over the inbox and quick-fix's phase folders, and commit them. */
export function addActiveItems(root, count) {
  const places = ['inbox', 'triage', 'build', 'review'];
  for (let i = 0; i < count; i++) {
    const place = places[i % places.length];
    if (place === 'inbox') {
      writeFileSync(path.join(root, 'backlog', `active-${i}.md`), itemText(i));
      continue;
    }
    const dir = path.join(root, 'backlog', place, `active-${i}`);
    mkdirSync(dir, { recursive: true });
    writeFileSync(path.join(dir, 'item.md'), itemText(i));
  }
  sh(root, 'git', 'add', '--all');
  sh(root, 'git', '-c', 'gc.auto=0', 'commit', '--quiet', '-m', `${count} items in work`);
}

function startBoard(root) {
  const started = performance.now();
  const child = spawn(process.execPath, [TEND, 'board', '--port', '0'], {
    cwd: root,
    env: ENV,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  return new Promise((resolve, reject) => {
    child.on('exit', (code) => reject(new Error(`tend board exited ${code}: ${out}`)));
    child.stdout.on('data', (chunk) => {
      out += chunk;
      const m = /tend board: (http:\/\/\S+)/.exec(out);
      if (m) resolve({ url: m[1], startMs: performance.now() - started, stop: () => child.kill('SIGTERM') });
    });
  });
}

async function load(url) {
  const started = performance.now();
  const html = await (await fetch(url)).text();
  await Promise.all(['board.js', 'board.css'].map(async (f) => (await fetch(new URL(`/static/${f}`, url))).text()));
  const data = await (await fetch(new URL('/api/board', url))).json();
  if (!html.includes('tend-token') || !data.columns) throw new Error('bench: the board did not load');
  return { ms: performance.now() - started, cards: data.columns.reduce((n, c) => n + c.items.length, 0) };
}

/**
 * A fresh board at `root`: its start-up until it prints its URL (it makes the board's JSON
 * before), its first load, and the median of `warm` loads after it.
 */
export async function boardLoad(root, warm = 5) {
  const board = await startBoard(root);
  try {
    const first = await load(board.url);
    const again = [];
    for (let i = 0; i < warm; i++) again.push((await load(board.url)).ms);
    return { startMs: board.startMs, firstMs: first.ms, warmMs: median(again), cards: first.cards };
  } finally {
    board.stop();
  }
}
