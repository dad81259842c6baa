// Hostile agent processes: descendants that escape the process group, output printed in the
// moment an agent exits, agent CLIs that report no dollar figure.
import { readFileSync } from 'node:fs';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { execa } from 'execa';
import { afterEach, describe, expect, it } from 'vitest';
import { FIXTURES, item, itemField, runRepo, settingsFor } from '../helpers/engine.js';
import { alive } from '../helpers/processes.js';
import { cleanEnv, git, read, scratchDir, tend, TEND_BIN } from '../helpers/repo.js';
import { trackTend } from '../helpers/tend-runs.js';
import { runProcess } from '../../src/edges/process.js';

const SOLO = '---\nphases:\n  - { name: work, artifact: work.md, prompt: build.md }\n---\nOne phase.\n';
const solo = (title: string) => item(title, 'pipeline: solo\n');

/** ORCHESTRATOR.md whose agent is a one-line shell script: it starts and exits in a moment. */
const shellAgent = (script: string) => `---
agent: quick
retries: 0
concurrency: 4
agents:
  quick:
    type: command
    command: [sh, -c, ${JSON.stringify(script)}]
---
Test project.
`;

/** Pid files of sleepers the fake agents start: whatever the test's outcome, none outlives it. */
const sleeperPidFiles: string[] = [];
afterEach(() => {
  for (const file of sleeperPidFiles.splice(0)) {
    try {
      process.kill(Number(readFileSync(file, 'utf8').trim()), 'SIGKILL');
    } catch {
      // Gone, as it should be, or never started.
    }
  }
});

async function sleeperPidFile(): Promise<string> {
  const file = path.join(await scratchDir(), 'pid');
  sleeperPidFiles.push(file);
  return file;
}

/** `tend run --once`, bounded so a run that would hang fails the test instead of stalling it. */
async function runOnce(root: string, env: Record<string, string>, args: string[] = [], timeout = 25_000) {
  const options = { cwd: root, env: cleanEnv(env), extendEnv: false, reject: false, timeout, input: '' };
  const result = await trackTend(execa(process.execPath, [TEND_BIN, 'run', '--once', ...args], options));
  return {
    exitCode: result.exitCode,
    stdout: String(result.stdout),
    stderr: String(result.stderr),
    timedOut: result.timedOut,
  };
}

/** Wait (bounded) until the fake agent has recorded its sleeper. */
async function waitForPid(pidFile: string): Promise<void> {
  for (let i = 0; i < 400 && !(await readFile(pidFile, 'utf8').catch(() => '')).trim(); i++)
    await new Promise((r) => setTimeout(r, 50));
}

async function sleeperPid(pidFile: string): Promise<number> {
  return Number((await readFile(pidFile, 'utf8')).trim());
}

/**
 * `count` items `<name>-<i>` (titled `<Name> <i>`) whose agent is the shell one-liner `script`,
 * after a `tend run --once` that must end well whatever the agents did; their ids, to check each.
 */
async function runShellAgents(name: string, count: number, script: string): Promise<{ root: string; ids: string[] }> {
  const ids = Array.from({ length: count }, (_, i) => `${name}-${i}`);
  const title = (i: number) => `${name[0]?.toUpperCase()}${name.slice(1)} ${i}`;
  const items = Object.fromEntries(ids.map((id, i) => [`backlog/${id}.md`, solo(title(i))]));
  const settings = { 'pipelines/solo.md': SOLO, 'ORCHESTRATOR.md': shellAgent(script) };
  const root = await runRepo('write-artifact.mjs', { ...settings, ...items });
  const result = await runOnce(root, {}, [], 110_000); // 40 items make about 120 commits: slow on a loaded machine
  expect(result.exitCode, result.stderr).toBe(0);
  return { root, ids };
}

async function workLog(root: string, id: string): Promise<string> {
  const dir = path.join(root, '.tend', 'logs', id);
  const name = (await readdir(dir)).find((n) => /^work\.\d+\.log$/.test(n));
  return name ? readFile(path.join(dir, name), 'utf8') : '';
}

describe("descendants that escape the agent's process group", () => {
  it('an agent that leaves `setsid sleep` holding its stdout: the phase ends when the agent exits, the sleeper is reported and stopped', async () => {
    const pidFile = await sleeperPidFile();
    const root = await runRepo(
      'leave-setsid-sleeper.mjs',
      { 'pipelines/solo.md': SOLO, 'backlog/leaky.md': solo('Leaky') },
      { retries: 0, timeout: '5s', stall_timeout: '3s' },
    );
    const result = await runOnce(root, { FAKE_PID_FILE: pidFile });
    const pid = await sleeperPid(pidFile);
    expect(result.timedOut).toBe(false);
    expect(result.exitCode, result.stderr).toBe(0);
    expect(await itemField(root, 'backlog/done/leaky/item.md', 'title')).toBe('Leaky');
    expect(result.stderr).toMatch(
      new RegExp(
        `leaky: the work agent left process ${pid} \\(sleep 1000\\) running outside its process group; stopped it`,
      ),
    );
    expect(await workLog(root, 'leaky')).toMatch(
      new RegExp(`# left running: process ${pid} \\(sleep 1000\\); stopped`),
    );
    expect(alive(pid)).toBe(false);
  });

  it('an agent that hangs after leaving `setsid sleep` on its stdout: the timeout ends the phase and the sleeper is stopped', async () => {
    const pidFile = await sleeperPidFile();
    const root = await runRepo(
      'leave-setsid-sleeper.mjs',
      { 'pipelines/solo.md': SOLO, 'backlog/stuck.md': solo('Stuck') },
      { retries: 0, timeout: '2s', stall_timeout: '1s' },
    );
    const result = await runOnce(root, { FAKE_PID_FILE: pidFile, FAKE_AGENT_HANG: '1' });
    const pid = await sleeperPid(pidFile);
    expect(result.timedOut).toBe(false);
    expect(result.exitCode, result.stderr).toBe(0);
    expect(await itemField(root, 'backlog/blocked/stuck/item.md', 'blocked_reason')).toMatch(
      /stall_timeout|phase timeout/,
    );
    expect(result.stderr).toMatch(new RegExp(`stuck: the work agent left process ${pid} \\(sleep 1000\\) running`));
    expect(alive(pid)).toBe(false);
  });

  it('a SIGTERM to `tend run` while such an agent runs: tend stops the agent and the sleeper and exits', async () => {
    const pidFile = await sleeperPidFile();
    const root = await runRepo(
      'leave-setsid-sleeper.mjs',
      { 'pipelines/solo.md': SOLO, 'backlog/held.md': solo('Held') },
      { retries: 0 },
    );
    const run = execa(process.execPath, [TEND_BIN, 'run'], {
      cwd: root,
      env: cleanEnv({ FAKE_PID_FILE: pidFile, FAKE_AGENT_HANG: '1' }),
      extendEnv: false,
      reject: false,
      timeout: 25_000,
      input: '',
    });
    trackTend(run);
    await waitForPid(pidFile);
    const pid = await sleeperPid(pidFile);
    run.kill('SIGTERM');
    const result = await run;
    expect(result.timedOut).toBe(false);
    expect(alive(pid)).toBe(false);
    expect(await itemField(root, 'backlog/work/held/item.md', 'status')).toBe('queued');
  });

  it('tend killed with -9 while such an agent runs: the next run stops the agent and the sleeper it moved out of its group', async () => {
    const pidFile = await sleeperPidFile();
    const root = await runRepo(
      'leave-setsid-sleeper.mjs',
      { 'pipelines/solo.md': SOLO, 'backlog/crash.md': solo('Crash') },
      { retries: 1 },
    );
    const first = execa(process.execPath, [TEND_BIN, 'run'], {
      cwd: root,
      env: cleanEnv({ FAKE_PID_FILE: pidFile, FAKE_AGENT_HANG: '1' }),
      extendEnv: false,
      reject: false,
      input: '',
    });
    trackTend(first);
    await waitForPid(pidFile);
    const pid = await sleeperPid(pidFile);
    first.kill('SIGKILL');
    await first;
    expect(alive(pid)).toBe(true); // in its own session, it outlives tend
    await writeFile(path.join(root, 'ORCHESTRATOR.md'), settingsFor('write-artifact.mjs', { retries: 1 }));
    const second = await runOnce(root, {});
    expect(second.exitCode, second.stderr).toBe(0);
    expect(second.stderr).toMatch(/stopped 1 agent process group/);
    expect(alive(pid)).toBe(false);
    expect(await itemField(root, 'backlog/done/crash/item.md', 'title')).toBe('Crash');
  });

  it('an agent that detaches `setsid sleep ... >/dev/null &`: the sleeper does not outlive the phase silently', async () => {
    const pidFile = await sleeperPidFile();
    const root = await runRepo(
      'leave-setsid-sleeper.mjs',
      { 'pipelines/solo.md': SOLO, 'backlog/quiet.md': solo('Quiet') },
      { retries: 0 },
    );
    const result = await runOnce(root, { FAKE_PID_FILE: pidFile, FAKE_SLEEPER_OUTPUT: 'null' });
    const pid = await sleeperPid(pidFile);
    expect(result.exitCode, result.stderr).toBe(0);
    expect(await itemField(root, 'backlog/done/quiet/item.md', 'title')).toBe('Quiet');
    expect(result.stderr).toMatch(new RegExp(`quiet: the work agent left process ${pid} \\(sleep 1000\\) running`));
    expect(alive(pid)).toBe(false);
  });
});

describe('output printed in the moment an agent exits', () => {
  it('40 agents that print a line and a cost and exit at once: every log has the line, every cost is recorded', async () => {
    const script = 'echo "first line of $TEND_ITEM"; echo done > "$TEND_ARTIFACT"; echo \'{"total_cost_usd": 1.00}\'';
    const { root, ids } = await runShellAgents('quick', 40, script);
    for (const id of ids) {
      expect(await itemField(root, `backlog/done/${id}/item.md`, 'cost_usd'), id).toBe('1');
      expect(await workLog(root, id), id).toContain(`first line of ${id}`);
    }
  }, 120_000);

  it('10 agents that print `FATAL: API key missing` to stderr and exit 1: the message is in every log and blocked_reason', async () => {
    const { root, ids } = await runShellAgents('fatal', 10, 'echo "FATAL: API key missing" >&2; exit 1');
    for (const id of ids) {
      expect(await workLog(root, id), id).toContain('FATAL: API key missing');
      expect(await read(root, `backlog/blocked/${id}/item.md`), id).toMatch(
        /^blocked_reason: .*FATAL: API key missing/m,
      );
    }
  }, 60_000);
});

describe('limits of 0 and of many days', () => {
  it('`timeout: 0s` and `stall_timeout: 0` mean no limit: a quiet agent that takes its time finishes its phase', async () => {
    const root = await runRepo(
      'slow-write.mjs',
      { 'pipelines/solo.md': SOLO, 'backlog/unhurried.md': solo('Unhurried') },
      { retries: 0, timeout: '0s', stall_timeout: 0 },
    );
    const result = await runOnce(root, { FAKE_DELAY_MS: '800' });
    expect(result.exitCode, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/done: unhurried/);
    expect(await itemField(root, 'backlog/done/unhurried/item.md', 'title')).toBe('Unhurried');
  });

  it('`timeout: 30d` (more than a timer holds) does not stop the agent at once', async () => {
    const root = await runRepo(
      'slow-write.mjs',
      { 'pipelines/solo.md': SOLO, 'backlog/patient.md': solo('Patient') },
      { retries: 0, timeout: '30d', stall_timeout: '30d' },
    );
    const result = await runOnce(root, { FAKE_DELAY_MS: '800' });
    expect(result.exitCode, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/done: patient/);
  });
});

describe('an agent CLI that reports tokens but no dollar figure', () => {
  it('codex: the tokens are recorded and the cost is `unknown` in the trailers and `tend show`, never $0.00', async () => {
    const root = await runRepo(
      'write-artifact.mjs',
      { 'pipelines/solo.md': SOLO, 'backlog/cx.md': solo('Cx') },
      { retries: 0 },
    );
    const result = await runOnce(root, { PATH: `${path.join(FIXTURES, 'bin')}:${process.env.PATH}` }, [
      '--agent',
      'codex',
    ]);
    expect(result.exitCode, result.stderr).toBe(0);
    const trailers = await git(root, 'log', '-1', '--format=%(trailers:only,unfold)', '--grep=cx work -> done');
    expect(trailers).toContain('Tend-Tokens: 300 in, 40 out');
    expect(trailers).toContain('Tend-Cost-USD: unknown');
    expect(result.stdout).toMatch(/cx work -> done {2}\(codex, \S+, cost unknown\)/);
    expect((await tend(root, ['show', 'cx'])).stdout).toMatch(/cx work -> done {2}\(codex, \d+s, cost unknown\)/);
    expect(await itemField(root, 'backlog/done/cx/item.md', 'cost_usd')).toBe('0');
  });
});

describe('an agent that streams a line with no end', () => {
  it('20 MB of stdout without a newline, then an event: the event still reaches the reader, the long line does not', async () => {
    const dir = await scratchDir();
    const script =
      "const c=Buffer.alloc(1<<20,'x');for(let i=0;i<20;i++)process.stdout.write(c);" +
      'process.stdout.write(\'\\n{"type":"after"}\\n\')';
    const lines: number[] = [];
    const result = await runProcess({
      command: process.execPath,
      args: ['-e', script],
      cwd: dir,
      timeoutMs: 20_000,
      stallTimeoutMs: 20_000,
      logFile: path.join(dir, 'agent.log'),
      logMaxBytes: 1024,
      signal: new AbortController().signal,
      onLine: (line) => lines.push(line.length),
    });
    expect(result.exitCode).toBe(0);
    // Before lines were bounded, the whole 20 MB line was held and handed over as one string.
    expect(lines).toEqual(['{"type":"after"}'.length]);
  });
});
