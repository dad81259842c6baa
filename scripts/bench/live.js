// Live mode in `npm run bench`: how long a watching `tend run` takes to start, and the latency
// from an inbox file being written to its intake being committed.
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { ENV, percentile, sh, TEND } from './tools.js';

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Items wait on one that waits for a human, so after intake they stay put: only intake is measured. */
function holdEverything(root) {
  writeFileSync(
    path.join(root, 'pipelines', 'hold.md'),
    '---\nphases:\n  - { name: triage, approve: true }\n---\nBench.\n',
  );
  mkdirSync(path.join(root, 'backlog', 'triage', 'hold'), { recursive: true });
  writeFileSync(
    path.join(root, 'backlog', 'triage', 'hold', 'item.md'),
    '---\ntitle: Hold\npipeline: hold\nstatus: waiting\n---\n',
  );
  sh(root, 'git', 'add', '--all');
  sh(root, 'git', 'commit', '--quiet', '-m', 'hold');
}

/** Start `tend run` watching `root`; resolves once it says it is watching. */
function startRun(root, seen) {
  const started = performance.now();
  const child = spawn(process.execPath, [TEND, 'run', '--agent', 'dry-run'], {
    cwd: root,
    env: ENV,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let pending = '';
  let stderr = '';
  child.stderr.on('data', (chunk) => (stderr += chunk));
  const ready = new Promise((resolve, reject) => {
    child.on('exit', (code) => reject(new Error(`tend run exited ${code} before watching: ${stderr}`)));
    child.stdout.on('data', (chunk) => {
      const lines = (pending + chunk).split('\n');
      pending = lines.pop();
      for (const line of lines) {
        if (line.startsWith('watching')) resolve(performance.now() - started);
        const m = / (\S+) inbox -> triage$/.exec(line);
        if (m) seen.set(m[1], performance.now());
      }
    });
  });
  return { child, ready };
}

/**
 * Start-up of a live run, then `count` inbox files written `gapMs` apart; latencies are from
 * each write to its intake line. Files not taken in within `deadlineMs` of the last write count
 * as missed (reported, so a slow tend shows as slow rather than hanging the bench).
 */
export async function liveIntake(root, count, gapMs, deadlineMs = 120_000) {
  holdEverything(root);
  const seen = new Map();
  const { child, ready } = startRun(root, seen);
  const startupMs = await ready;
  const written = new Map();
  for (let i = 0; i < count; i++) {
    const id = `live-${i}`;
    written.set(id, performance.now());
    writeFileSync(
      path.join(root, 'backlog', `${id}.md`),
      `---\ntitle: Live ${i}\npipeline: hold\ndepends_on: [hold]\n---\nText.\n`,
    );
    await sleep(gapMs);
  }
  const deadline = performance.now() + deadlineMs;
  while ([...written.keys()].some((id) => !seen.has(id)) && performance.now() < deadline) await sleep(5);
  child.kill('SIGTERM');
  await new Promise((resolve) => child.on('exit', resolve));
  const latencies = [...written].filter(([id]) => seen.has(id)).map(([id, at]) => seen.get(id) - at);
  return {
    startupMs,
    p50: percentile(latencies, 50),
    p95: percentile(latencies, 95),
    missed: count - latencies.length,
  };
}
