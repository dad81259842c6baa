#!/usr/bin/env node
// `npm run bench`: what tend costs as the backlog grows, at several sizes of backlog/done/, each
// figure beside a baseline measured in the same run on the same machine (a raw git commit, the
// same run at the smallest size, Backlog.md, git status + node start-up). Printed as one table
// and written to BENCH_OUT as JSON. Never asserted: machines drift, ratios in one run do not.
//
// Settings (environment): BENCH_SIZES=100,1000,10000  BENCH_ITEMS=2 (items per measured run)
// BENCH_LIVE=50 BENCH_GAP_MS=200 (live intake)  BENCH_SLEEP_MS=10000 (CPU while an agent waits)
// BENCH_NIGHT_SIZES=100,1000 BENCH_NIGHT=15 BENCH_SLOTS=4 BENCH_SCALE=1 (simulated night)
// BENCH_BACKLOG_MD=0 (skip Backlog.md); `tend board` is loaded at every size  BENCH_STARTUP_RUNS=21  BENCH_OUT=bench-results.json
// Start-up alone: BENCH_SIZES= npm run bench
import { writeFileSync } from 'node:fs';
import os from 'node:os';
import { backlogCli, backlogList, backlogRepo } from './bench/backlog-md.js';
import { addActiveItems, boardLoad } from './bench/board.js';
import { liveIntake } from './bench/live.js';
import { night } from './bench/makespan.js';
import { add, cpuWhileWaiting, runPerTransition, status, writeBenchPipelines } from './bench/measures.js';
import { startup, startupLines } from './bench/startup.js';
import { hasGnuTime, rawCommitMs, removeRepo, sh, tendRepo } from './bench/tools.js';
import { workBranchFetch } from './bench/work-branches.js';

const list = (name, fallback) => (process.env[name] ?? fallback).split(',').filter(Boolean).map(Number);
const num = (name, fallback) => Number(process.env[name] ?? fallback);
const SIZES = list('BENCH_SIZES', '100,1000,10000');
const NIGHT_SIZES = list('BENCH_NIGHT_SIZES', '100,1000');
const ITEMS = num('BENCH_ITEMS', 2);
const log = (message) => process.stderr.write(`bench: ${message}\n`);

async function measureSize(size, cli) {
  log(`${size} finished items: building the repository`);
  const root = tendRepo(size);
  writeBenchPipelines(root);
  const r = { size, rawCommitMs: rawCommitMs(root, 9) };
  log(`${size}: status, add`);
  r.status = status(root);
  r.statusAll = status(root, 1, ['--all']);
  r.add = add(root);
  log(`${size}: tend board, first load`);
  r.board = await boardLoad(root);
  log(`${size}: run --once, repo phases`);
  r.repoRun = runPerTransition(root, 'bench-repo', ITEMS);
  log(`${size}: run --once, worktree phases`);
  r.worktreeRun = runPerTransition(root, 'bench-worktree', ITEMS);
  log(`${size}: live intake`);
  r.live = await liveIntake(root, num('BENCH_LIVE', 50), num('BENCH_GAP_MS', 200));
  log(`${size}: CPU while an agent sleeps`);
  r.waiting = cpuWhileWaiting(root, num('BENCH_SLEEP_MS', 10_000));
  if (NIGHT_SIZES.includes(size)) {
    log(`${size}: a simulated night`);
    r.night = night(root, num('BENCH_NIGHT', 15), num('BENCH_SLOTS', 4), num('BENCH_SCALE', 1));
  }
  removeRepo(root);
  log(`${size}: a sync's fetch with as many work branches on the remote`);
  r.fetch = workBranchFetch(size);
  log(`${size}: tend board with ${size} items in work`);
  const busy = tendRepo(0);
  addActiveItems(busy, size);
  r.boardActive = { ...(await boardLoad(busy)), status: status(busy) };
  removeRepo(busy);
  if (cli) {
    log(`${size}: Backlog.md`);
    const other = backlogRepo(cli, size);
    r.backlogMd = backlogList(cli, other);
    removeRepo(other);
  }
  return r;
}

const ms = (v) => (v === undefined ? 'n/a' : `${v.toFixed(0)} ms`);
const x = (a, b) => (a === undefined || b === undefined ? 'n/a' : `${(a / b).toFixed(2)}x`);
const mib = (run) => (run?.rssMiB === undefined ? '' : `, ${run.rssMiB.toFixed(0)} MiB`);
const cpu = (run) => (run?.userS === undefined ? 'n/a' : `${run.userS.toFixed(1)}+${run.sysS.toFixed(1)} s${mib(run)}`);

function table(rows) {
  const first = rows[0];
  const lines = [
    ['raw git add + commit, one file', (r) => ms(r.rawCommitMs)],
    ['tend status', (r) => `${ms(r.status.wallMs)}${mib(r.status)}`],
    ['tend status --all (reads done/)', (r) => `${ms(r.statusAll.wallMs)}${mib(r.statusAll)}`],
    ['Backlog.md task list --plain', (r) => (r.backlogMd ? `${ms(r.backlogMd.wallMs)}${mib(r.backlogMd)}` : 'n/a')],
    ['  speed-up: Backlog.md / tend', (r) => x(r.backlogMd?.wallMs, r.status.wallMs)],
    ['tend board start-up (done/)', (r) => ms(r.board.startMs)],
    ['  first load (warm)', (r) => `${ms(r.board.firstMs)} (${ms(r.board.warmMs)})`],
    ['  start-up / tend status', (r) => x(r.board.startMs, r.status.wallMs)],
    ['tend board start-up, all in work', (r) => ms(r.boardActive.startMs)],
    ['  first load (warm)', (r) => `${ms(r.boardActive.firstMs)} (${ms(r.boardActive.warmMs)})`],
    ['  start-up / tend status at the same', (r) => x(r.boardActive.startMs, r.boardActive.status.wallMs)],
    ['tend add (with its commit)', (r) => ms(r.add.wallMs)],
    ['  add / raw commit', (r) => x(r.add.wallMs, r.rawCommitMs)],
    ['per transition, repo phases', (r) => `${ms(r.repoRun.perTransitionMs)}${mib(r.repoRun)}`],
    ['  / raw commit', (r) => x(r.repoRun.perTransitionMs, r.rawCommitMs)],
    [`  / the same at ${first.size}`, (r) => x(r.repoRun.perTransitionMs, first.repoRun.perTransitionMs)],
    ['per transition, worktree phases', (r) => ms(r.worktreeRun.perTransitionMs)],
    [`  / the same at ${first.size}`, (r) => x(r.worktreeRun.perTransitionMs, first.worktreeRun.perTransitionMs)],
    ['live run start-up', (r) => ms(r.live.startupMs)],
    [
      'live intake p50 / p95',
      (r) => `${ms(r.live.p50)} / ${ms(r.live.p95)}${r.live.missed ? ` (${r.live.missed} missed)` : ''}`,
    ],
    ['tend CPU while one agent sleeps', (r) => cpu(r.waiting)],
    ['sync fetch, as many tend/* on remote', (r) => ms(r.fetch.withWorkBranchesMs)],
    ['  / fetch of the branch alone', (r) => x(r.fetch.withWorkBranchesMs, r.fetch.aloneMs)],
    [
      'night makespan / lower bound',
      (r) => (r.night ? `${x(r.night.makespanMs, r.night.boundMs)} (${(r.night.makespanMs / 1000).toFixed(0)} s)` : ''),
    ],
  ];
  const width = Math.max(...lines.map(([label]) => label.length)) + 2;
  const col = 24;
  const out = [''.padEnd(width) + rows.map((r) => `${r.size} items`.padStart(col)).join('')];
  for (const [label, cell] of lines) out.push(label.padEnd(width) + rows.map((r) => cell(r).padStart(col)).join(''));
  return out.join('\n');
}

const cli = process.env.BENCH_BACKLOG_MD === '0' || SIZES.length === 0 ? undefined : backlogCli();
const empty = tendRepo(0);
const start = startup(empty, num('BENCH_STARTUP_RUNS', 21));
removeRepo(empty);
const rows = [];
for (const size of SIZES) rows.push(await measureSize(size, cli));
const gitVersion = sh(os.tmpdir(), 'git', '--version').trim();
console.log(
  `tend bench: ${os.cpus().length} cores, node ${process.version}, ${gitVersion}; ${ITEMS} items per measured run`,
);
if (rows.length > 0) console.log(table(rows));
console.log(startupLines(start));
if (!hasGnuTime) console.log('(memory and CPU need GNU time at /usr/bin/time: apt-get install time)');
const out = process.env.BENCH_OUT ?? 'bench-results.json';
writeFileSync(
  out,
  `${JSON.stringify({ when: new Date().toISOString(), cores: os.cpus().length, startup: start, sizes: rows }, null, 2)}\n`,
);
console.log(`figures written to ${out}`);
