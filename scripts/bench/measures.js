// The figures of `npm run bench` that come from one command each: status, add, a whole
// `run --once` divided by its transitions, and tend's own CPU while an agent sleeps.
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ENV, itemText, medianRun, sh, TEND, timed } from './tools.js';

const SLEEP_AGENT = path.join(path.dirname(fileURLToPath(import.meta.url)), 'sleep-agent.js');

/** `tend status` (median of `times`), with its peak memory; `args` e.g. `--all`. */
export function status(root, times = 3, args = []) {
  return medianRun(times, () => timed(root, 'node', [TEND, 'status', ...args]));
}

/** `tend add` of a new item, with its commit; each run adds one more item. */
export function add(root, times = 3) {
  let n = 0;
  return medianRun(times, () => timed(root, 'node', [TEND, 'add', `Bench item ${n++} ${Date.now()}`]));
}

/** Pipelines whose phases all run in the checkout, or in worktrees, for `runPerTransition`. */
export function writeBenchPipelines(root) {
  const review = 'on_reject: build, max_loops: 2';
  writeFileSync(
    path.join(root, 'pipelines', 'bench-repo.md'),
    `---\nphases:\n  - { name: triage }\n  - { name: build }\n  - { name: review, ${review} }\n---\nBench: repo phases.\n`,
  );
  writeFileSync(
    path.join(root, 'pipelines', 'bench-worktree.md'),
    `---\nphases:\n  - { name: triage }\n  - { name: build, workspace: worktree }\n  - { name: review, workspace: worktree, ${review} }\n---\nBench: worktree phases.\n`,
  );
  sh(root, 'git', 'add', '--', 'pipelines');
  sh(root, 'git', 'commit', '--quiet', '-m', 'bench pipelines');
}

/** `count` new items through `pipeline` with dry-run: wall time of the whole run per transition. */
export function runPerTransition(root, pipeline, count) {
  for (let i = 0; i < count; i++)
    writeFileSync(path.join(root, 'backlog', `new-${pipeline}-${i}.md`), itemText(i, pipeline));
  const run = timed(root, 'node', [TEND, 'run', '--once', '--agent', 'dry-run', '--json']);
  const transitions = JSON.parse(run.stdout).transitions;
  return { ...run, transitions, perTransitionMs: run.wallMs / transitions };
}

/** tend's own CPU for a `run --once` whose single agent sleeps `sleepMs`. */
export function cpuWhileWaiting(root, sleepMs) {
  writeFileSync(
    path.join(root, 'pipelines', 'bench-wait.md'),
    '---\nphases:\n  - { name: wait, prompt: build.md }\n---\nBench: one phase.\n',
  );
  writeFileSync(path.join(root, 'backlog', 'bench-wait.md'), itemText(0, 'bench-wait'));
  writeFileSync(
    path.join(root, 'ORCHESTRATOR.md'),
    [
      '---',
      'agent: sleeper',
      'agents:',
      `  sleeper: { type: command, command: [${JSON.stringify(process.execPath)}, ${JSON.stringify(SLEEP_AGENT)}] }`,
      '---',
      '',
    ].join('\n'),
  );
  sh(root, 'git', 'add', '--all');
  sh(root, 'git', 'commit', '--quiet', '-m', 'bench wait');
  return timed(root, 'node', [TEND, 'run', '--once'], { ...ENV, BENCH_SLEEP_MS: String(sleepMs) });
}
