// What the board shows of an item an agent works on. The run's live view hears each agent's
// activity in its own process; another process sees only what the run leaves on disk: the
// attempt's prompt (written as its agent starts) and the agent's output log under .tend/logs/<id>/.
import { open, readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { agentOf, pipelineOf } from '../core/scheduler.js';
import type { Item } from '../core/backlog.js';
import type { Repo } from '../edges/repo.js';
import { itemLogDir } from '../edges/state-dir.js';

export interface RunningWork {
  /** The phase's configured agent (a `tend run --agent` override is not written anywhere). */
  agent: string | null;
  /** The attempt's log stem: `<phase>[-<lens>].<attempt>`. */
  attempt: string;
  elapsed_seconds: number;
  /** The last lines of the agent's output log, as it writes them. */
  lines: string[];
}

const TAIL_BYTES = 4096;
const TAIL_LINES = 5;
/** Terminal control characters (colours, cursor moves) in an agent's output: not for a web page. */
// eslint-disable-next-line no-control-regex
const CONTROL = /\x1b\[[0-9;?]*[A-Za-z]|[\x00-\x08\x0b-\x1f\x7f]/g;

async function tail(file: string): Promise<string[]> {
  const handle = await open(file, 'r').catch(() => undefined);
  if (!handle) return [];
  try {
    const { size } = await handle.stat();
    const length = Math.min(size, TAIL_BYTES);
    const { buffer } = await handle.read(Buffer.alloc(length), 0, length, size - length);
    const lines = buffer.toString('utf8').replace(CONTROL, '').split('\n');
    return lines
      .slice(size > length ? 1 : 0)
      .map((l) => l.trimEnd().slice(0, 300))
      .filter(Boolean)
      .slice(-TAIL_LINES);
  } finally {
    await handle.close();
  }
}

/** The item's latest attempt on disk, or null when none was started (nothing written yet). */
export async function runningWork(repo: Repo, item: Item, now: number): Promise<RunningWork | null> {
  const dir = itemLogDir(repo.root, item.id);
  const names = await readdir(dir).catch(() => [] as string[]);
  const own = new RegExp(`^${item.location}(-[a-z0-9-]+)?\\.\\d+\\.prompt\\.md$`);
  const prompts = names.filter((n) => own.test(n));
  const started = await Promise.all(
    prompts.map(async (n) => ({ n, ms: (await stat(path.join(dir, n)).catch(() => undefined))?.mtimeMs ?? 0 })),
  );
  const latest = started.sort((a, b) => b.ms - a.ms)[0];
  if (!latest) return null;
  const stem = latest.n.slice(0, -'.prompt.md'.length);
  const phase = pipelineOf(item, repo.config)?.phases.find((p) => p.name === item.location);
  return {
    agent: phase ? agentOf(phase, repo.config, undefined) : null,
    attempt: stem,
    elapsed_seconds: Math.max(0, Math.round((now - latest.ms) / 1000)),
    lines: await tail(path.join(dir, `${stem}.log`)),
  };
}
