#!/usr/bin/env node
// Clones of one bare remote running `tend run --once --sync origin` at the same time over the
// same items (a two-phase pipeline, a fake agent sleeping 0-300 ms at random), then the checks a
// user would make: every clone holds every item in done/ after `tend sync`, the agent ran each
// (item, phase) once, and the remote's history holds each transition once. Also one clone alone
// with and without the remote, for what a sync costs per transition.
//
//   npm run build && node scripts/three-clones.js            # 3 clones, 30 items, and the one-clone ratio
//   CLONES=2 ITEMS=30 SOLO=0 node scripts/three-clones.js     # only the race, two clones
//   KEEP=1 ...                                                # keep the repositories and each run's output
//
// Needs no network: the remote is a bare repository in a temporary folder. Prints the figures and
// exits 1 when a check fails.
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ENV, sh, TEND } from './bench/tools.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const AGENT = path.join(HERE, '..', 'test', 'fixtures', 'agents', 'count-and-sleep.mjs');
const CLONES = Number(process.env.CLONES ?? 3);
const ITEMS = Number(process.env.ITEMS ?? 30);
const SOLO = process.env.SOLO !== '0';
const PAIR = '---\nphases:\n  - { name: triage }\n  - { name: build }\n---\nTwo phases in the checkout.\n';
const SETTINGS = `---
agent: fake
retries: 1
retry_backoff: 0s
timeout: 20s
agents:
  fake:
    type: command
    command: [${JSON.stringify(process.execPath)}, ${JSON.stringify(AGENT)}]
---
Three clones.
`;
const item = (i) => `---\ntitle: Item ${i}\npipeline: pair\ncreated: 2026-12-01T00:00:00Z\n---\nItem ${i}.\n`;

/** A bare remote holding a `tend init`ed repository with `items` items in the inbox. */
function sharedRemote(scratch, items) {
  const first = path.join(scratch, 'first');
  mkdirSync(path.join(first, 'pipelines'), { recursive: true });
  sh(first, 'git', 'init', '--quiet', '--initial-branch=main');
  sh(first, 'node', TEND, 'init');
  writeFileSync(path.join(first, 'ORCHESTRATOR.md'), SETTINGS);
  writeFileSync(path.join(first, 'pipelines', 'pair.md'), PAIR);
  for (let i = 0; i < items; i++) writeFileSync(path.join(first, 'backlog', `item-${i}.md`), item(i));
  sh(first, 'git', 'add', '--all');
  sh(first, 'git', 'commit', '--quiet', '-m', 'setup');
  const remote = path.join(scratch, 'remote.git');
  sh(scratch, 'git', 'init', '--quiet', '--bare', '--initial-branch=main', remote);
  sh(first, 'git', 'push', '--quiet', remote, 'main');
  return remote;
}

function cloneOf(scratch, remote, name) {
  const dir = path.join(scratch, name);
  sh(scratch, 'git', 'clone', '--quiet', remote, dir);
  sh(dir, 'git', 'config', 'gc.auto', '0');
  sh(dir, 'node', TEND, 'init');
  return dir;
}

/** Run `tend` in `dir`; resolves with its exit code, output and wall time. */
function tendRun(dir, args, env) {
  return new Promise((resolve) => {
    const started = process.hrtime.bigint();
    const child = spawn('node', [TEND, ...args], { cwd: dir, env: { ...ENV, ...env } });
    let output = '';
    child.stdout.on('data', (d) => (output += d));
    child.stderr.on('data', (d) => (output += d));
    child.on('close', (code) => resolve({ code, output, ms: Number(process.hrtime.bigint() - started) / 1e6 }));
  });
}

/** `item|outcome|phase` of every transition commit on `ref`. */
function transitions(repo, ref) {
  const format =
    '%(trailers:key=Tend-Item,valueonly,separator=)|%(trailers:key=Tend-Outcome,valueonly,separator=)|' +
    '%(trailers:key=Tend-Phase,valueonly,separator=)';
  return sh(repo, 'git', 'log', ref, `--format=${format}`, '--grep=^Tend-Item:').split('\n').filter(Boolean);
}

function twice(list) {
  const seen = new Set();
  return list.filter((x) => (seen.has(x) ? true : (seen.add(x), false)));
}

async function race(scratch) {
  const remote = sharedRemote(scratch, ITEMS);
  const clones = Array.from({ length: CLONES }, (_, i) => cloneOf(scratch, remote, `clone-${i}`));
  const counts = path.join(scratch, 'counts');
  const env = { FAKE_COUNT_FILE: counts, FAKE_RANDOM_MS: '300' };
  const started = process.hrtime.bigint();
  const runs = await Promise.all(clones.map((dir) => tendRun(dir, ['run', '--once', '--sync', 'origin'], env)));
  const wallS = Number(process.hrtime.bigint() - started) / 1e9;
  runs.forEach((r, i) => writeFileSync(path.join(scratch, `clone-${i}.out`), r.output));
  const failures = [];
  runs.forEach((r, i) => r.code !== 0 && failures.push(`clone ${i} exited ${r.code}: ${r.output.slice(-2000)}`));
  for (const [i, dir] of clones.entries()) {
    const synced = await tendRun(dir, ['sync', 'origin']);
    if (synced.code !== 0) failures.push(`tend sync on clone ${i}: ${synced.output}`);
    const done = readdirSync(path.join(dir, 'backlog', 'done')).length;
    if (done !== ITEMS) failures.push(`clone ${i} holds ${done} of ${ITEMS} items in done/`);
  }
  const ran = readFileSync(counts, 'utf8').split('\n').filter(Boolean);
  const history = transitions(remote, 'main');
  const per = (outcome) => history.filter((t) => t.split('|')[1] === outcome).length;
  if (ran.length !== 2 * ITEMS || twice(ran).length > 0)
    failures.push(`the agent ran ${ran.length} times; twice: ${twice(ran).join(', ')}`);
  if (twice(history).length > 0) failures.push(`transitions twice: ${twice(history).join(', ')}`);
  if (per('done') !== 2 * ITEMS) failures.push(`${per('done')} phases done in the remote's history`);
  const perClone = runs.map((r) => `${(r.ms / 1000).toFixed(1)} s`).join(', ');
  console.log(
    `${CLONES} clones, ${ITEMS} items: ${wallS.toFixed(1)} s (per clone ${perClone}); agent runs ${ran.length}; ` +
      `transitions ${history.length} (${per('intake')} intakes, ${per('claimed')} claims, ${per('done')} done)`,
  );
  return failures;
}

/** One clone alone over the items: seconds per transition with and without `--sync`. */
async function solo(scratch) {
  const perTransition = {};
  for (const mode of ['local', 'sync']) {
    const remote = sharedRemote(path.join(scratch, mode), ITEMS);
    const dir = cloneOf(path.join(scratch, mode), remote, 'solo');
    const before = transitions(dir, 'HEAD').length;
    const args = mode === 'sync' ? ['run', '--once', '--sync', 'origin'] : ['run', '--once'];
    const run = await tendRun(dir, args, { FAKE_RANDOM_MS: '300' });
    if (run.code !== 0) return [`the ${mode} run exited ${run.code}: ${run.output.slice(-2000)}`];
    const made = transitions(dir, 'HEAD').length - before;
    perTransition[mode] = run.ms / 1000 / made;
    console.log(
      `one clone, ${mode === 'sync' ? '--sync origin' : 'no remote'}: ${(run.ms / 1000).toFixed(1)} s for ` +
        `${made} transitions, ${perTransition[mode].toFixed(2)} s per transition`,
    );
  }
  console.log(`sync per transition vs no remote: ${(perTransition.sync / perTransition.local).toFixed(2)}x`);
  return [];
}

const scratch = mkdtempSync(path.join(os.tmpdir(), 'tend-clones-'));
try {
  const failures = [...(await race(path.join(scratch, 'race'))), ...(SOLO ? await solo(scratch) : [])];
  for (const f of failures) console.error(`FAILED: ${f}`);
  process.exitCode = failures.length > 0 ? 1 : 0;
} finally {
  if (process.env.KEEP !== '1') rmSync(scratch, { recursive: true, force: true });
  else console.log(`kept ${scratch}`);
}
