// `tend run`: the engine with a plain reporter (one line per transition) and signal handling.
import { liveView, transitionLine } from '../live-view.js';
import { formatDuration } from '../../core/duration.js';
import { runEngine, type Reporter, type RunSummary } from '../../engine/runner.js';
import { constants as osConstants } from 'node:os';
import path from 'node:path';
import { killRecordedAgentsSync } from '../../edges/process.js';
import { AGENT_PID_DIR } from '../../engine/phase.js';
import { paint, printJson } from '../output.js';
import { repoRoot } from '../../edges/repo.js';

export interface RunCommandOptions {
  once: boolean;
  agent?: string;
  concurrency?: number;
  quiet: boolean;
  json: boolean;
  poll: boolean;
  /** `--sync [REMOTE]`: a remote, or true for git.remote. */
  sync?: string | true;
}

/** One plain line per transition: for logs, CI and pipes. */
function plainReporter(quiet: boolean): Reporter {
  const out = paint(process.stdout);
  const err = paint(process.stderr);
  return {
    transition(t) {
      if (!quiet) process.stdout.write(`${transitionLine(t, out)}\n`);
    },
    info(message) {
      if (!quiet) process.stdout.write(`${message}\n`);
    },
    warn(message) {
      process.stderr.write(`${err('yellow', 'warning')}: ${message}\n`);
    },
  };
}

export function formatSummary(s: RunSummary): string {
  const spent = `$${s.costUsd.toFixed(2)}, ${formatDuration(s.elapsedMs)}`;
  const lines = [`${s.transitions} transitions, ${s.phasesDone} phases done, ${s.failures} failed attempts, ${spent}`];
  if (s.done.length > 0) lines.push(`done: ${s.done.join(', ')}`);
  if (s.blocked.length > 0) lines.push(`blocked (see \`tend show <id>\`): ${s.blocked.join(', ')}`);
  if (s.waiting.length > 0) lines.push(`waiting for approval (\`tend approve <id>\`): ${s.waiting.join(', ')}`);
  if (s.stuck.length > 0) lines.push(`waiting on a blocked dependency: ${s.stuck.join(', ')}`);
  if (s.parked.length > 0)
    lines.push(`parked until a usage limit resets: ${s.parked.map((p) => `${p.id} (${p.until})`).join(', ')}`);
  if (s.stoppedBy) lines.push(`stopped: ${s.stoppedBy}`);
  for (const e of s.errors) lines.push(`error: ${e}`);
  return lines.join('\n');
}

export async function runCommand(cwd: string, options: RunCommandOptions): Promise<number> {
  const root = await repoRoot(cwd);
  const controller = new AbortController();
  let signalled: NodeJS.Signals | undefined;
  const onSignal = (sig: NodeJS.Signals) => {
    if (signalled) {
      process.stderr.write('tend: stopping now\n');
      killRecordedAgentsSync(path.join(root, AGENT_PID_DIR));
      process.exit(130);
    }
    signalled = sig;
    process.stderr.write(`tend: ${sig}: stopping agents and requeueing their items (again to force)\n`);
    controller.abort();
  };
  // SIGHUP: the terminal or ssh session closed. Stopping cleanly gives the attempt back; dying
  // of it would count the attempt against the item.
  const signals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
  for (const sig of signals) process.on(sig, onSignal);
  try {
    const live = process.stdout.isTTY && !options.quiet && !options.json ? liveView(process.stdout) : undefined;
    const reporter = live ?? plainReporter(options.quiet || options.json);
    const summary = await runEngine({
      root,
      once: options.once,
      watch: !options.once,
      polling: options.poll,
      agent: options.agent,
      concurrency: options.concurrency,
      sync: options.sync,
      signal: controller.signal,
      reporter,
    }).finally(() => live?.close());
    if (options.json) printJson({ version: 1, ...summary });
    else process.stdout.write(`${formatSummary(summary)}\n`);
    if (signalled) return 128 + (osConstants.signals[signalled] ?? 15);
    return summary.errors.length > 0 ? 1 : 0;
  } finally {
    for (const sig of signals) process.off(sig, onSignal);
  }
}
