#!/usr/bin/env node
// `npm run bench`: tend's cost per transition against a raw `git commit` of a same-sized
// change, both measured in this run on this machine, printed as a ratio (never asserted).
import { execFileSync, spawn } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const tend = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'bin', 'tend.js');
const env = { ...process.env, GIT_AUTHOR_NAME: 'bench', GIT_AUTHOR_EMAIL: 'bench@tend.invalid', GIT_COMMITTER_NAME: 'bench', GIT_COMMITTER_EMAIL: 'bench@tend.invalid', GIT_CONFIG_GLOBAL: '/dev/null', NO_COLOR: '1' };
const ITEMS = Number(process.env.BENCH_ITEMS ?? 12);
const BACKGROUND = Number(process.env.BENCH_BACKGROUND ?? 300);
const itemText = (i) => `---\ntitle: Item ${i}\npriority: ${(i % 5) + 1}\npipeline: quick-fix\n---\nSome text for item ${i}.\n`;

function repo() {
  const root = mkdtempSync(path.join(os.tmpdir(), 'tend-bench-'));
  const sh = (cmd, ...args) => execFileSync(cmd, args, { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] }).toString();
  sh('git', 'init', '--quiet');
  sh('node', tend, 'init');
  // A backlog that already has history: finished items the new work sits beside.
  for (let i = 0; i < BACKGROUND; i++) {
    mkdirSync(path.join(root, 'backlog', 'done', `old-${i}`), { recursive: true });
    writeFileSync(path.join(root, 'backlog', 'done', `old-${i}`, 'item.md'), itemText(i));
  }
  sh('git', 'add', '--all');
  sh('git', 'commit', '--quiet', '-m', 'history');
  return { root, sh };
}

function median(values) {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

// Baseline: what any tool pays to record one change in git: write a file, add it, commit.
function rawCommitMs(count) {
  const { root, sh } = repo();
  const times = [];
  for (let i = 0; i < count; i++) {
    const started = process.hrtime.bigint();
    const file = path.join('backlog', 'done', `old-${i}`, 'item.md');
    writeFileSync(path.join(root, file), `${itemText(i)}edit ${i}\n`);
    sh('git', 'add', '--', file);
    sh('git', 'commit', '--quiet', '-m', `edit ${i}`, '--', file);
    times.push(Number(process.hrtime.bigint() - started) / 1e6);
  }
  rmSync(root, { recursive: true, force: true });
  return median(times);
}

function tendTransitionMs() {
  const { root, sh } = repo();
  for (let i = 0; i < ITEMS; i++) writeFileSync(path.join(root, 'backlog', `new-${i}.md`), itemText(i));
  const started = process.hrtime.bigint();
  const summary = JSON.parse(sh('node', tend, 'run', '--once', '--agent', 'dry-run', '--json'));
  const totalMs = Number(process.hrtime.bigint() - started) / 1e6;
  rmSync(root, { recursive: true, force: true });
  return { perTransition: totalMs / summary.transitions, transitions: summary.transitions, totalMs };
}

function percentile(values, p) {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
}

// Live mode: a running `tend run` taking in files as they appear. Items depend on one that
// waits for a human, so after intake they stay put and only intake is measured.
async function liveIntake(count, burst) {
  const { root, sh } = repo();
  writeFileSync(path.join(root, 'pipelines', 'hold.md'), '---\nphases:\n  - { name: triage, approve: true }\n---\nBench.\n');
  mkdirSync(path.join(root, 'backlog', 'triage', 'hold'), { recursive: true });
  writeFileSync(path.join(root, 'backlog', 'triage', 'hold', 'item.md'), '---\ntitle: Hold\npipeline: hold\nstatus: waiting\n---\n');
  sh('git', 'add', '--all');
  sh('git', 'commit', '--quiet', '-m', 'hold');
  const child = spawn(process.execPath, [tend, 'run', '--agent', 'dry-run'], { cwd: root, env, stdio: ['ignore', 'pipe', 'inherit'] });
  const seen = new Map();
  let ready;
  const isReady = new Promise((resolve) => (ready = resolve));
  let pending = '';
  child.stdout.on('data', (chunk) => {
    pending += chunk;
    const lines = pending.split('\n');
    pending = lines.pop();
    for (const line of lines) {
      if (line.startsWith('watching')) ready();
      const m = / (\S+) inbox -> triage$/.exec(line);
      if (m) seen.set(m[1], performance.now());
    }
  });
  await isReady;
  const text = (i) => `---\ntitle: Live ${i}\npipeline: hold\ndepends_on: [hold]\n---\nText.\n`;
  const waitFor = async (ids) => {
    while (!ids.every((id) => seen.has(id))) await new Promise((r) => setTimeout(r, 2));
  };
  let result;
  if (!burst) {
    const latencies = [];
    for (let i = 0; i < count; i++) {
      const id = `live-${i}`;
      const written = performance.now();
      writeFileSync(path.join(root, 'backlog', `${id}.md`), text(i));
      await waitFor([id]);
      latencies.push(seen.get(id) - written);
    }
    result = { p50: percentile(latencies, 50), p95: percentile(latencies, 95) };
  } else {
    const ids = Array.from({ length: count }, (_, i) => `burst-${i}`);
    const written = performance.now();
    ids.forEach((id, i) => writeFileSync(path.join(root, 'backlog', `${id}.md`), text(i)));
    await waitFor(ids);
    result = { totalMs: performance.now() - written };
  }
  child.kill('SIGTERM');
  await new Promise((r) => child.on('exit', r));
  rmSync(root, { recursive: true, force: true });
  return result;
}

const baseline = rawCommitMs(40);
const run = tendTransitionMs();
console.log(`backlog of ${BACKGROUND} finished items; ${ITEMS} new items through quick-fix with dry-run`);
console.log(`raw git add + commit of one item file:  ${baseline.toFixed(1)} ms (median of 40)`);
console.log(`tend, per transition (whole run / ${run.transitions}): ${run.perTransition.toFixed(1)} ms  (run: ${(run.totalMs / 1000).toFixed(1)} s, includes start-up)`);
console.log(`ratio tend / raw commit: ${(run.perTransition / baseline).toFixed(2)}x`);
const LIVE = Number(process.env.BENCH_LIVE ?? 200);
const BURST = Number(process.env.BENCH_BURST ?? 1000);
const latency = await liveIntake(LIVE, false);
console.log(`live intake latency, file written -> intake committed (${LIVE} files, one at a time): p50 ${latency.p50.toFixed(0)} ms, p95 ${latency.p95.toFixed(0)} ms  (${(latency.p50 / baseline).toFixed(1)}x / ${(latency.p95 / baseline).toFixed(1)}x a raw commit)`);
const burst = await liveIntake(BURST, true);
console.log(`burst of ${BURST} files absorbed (all taken in and committed): ${(burst.totalMs / 1000).toFixed(1)} s, ${(burst.totalMs / BURST).toFixed(1)} ms per file (${(burst.totalMs / BURST / baseline).toFixed(1)}x a raw commit)`);
