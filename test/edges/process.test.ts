// The child-process runner on its own: the bounded line buffer that feeds `onLine`, and real
// programs that print a huge line, read their stdin, cannot start, stall, run too long, are
// aborted or killed, or leave a process in their group.
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { alive } from '../helpers/processes.js';
import { scratchDir } from '../helpers/repo.js';
import { boundedLines, type ProcessRequest, runProcess } from '../../src/edges/process.js';

/** The lines a bounded buffer of `maxChars` hands over for `chunks`, flushed at the end. */
function linesOf(chunks: string[], maxChars: number): string[] {
  const lines: string[] = [];
  const buffer = boundedLines((line) => lines.push(line), maxChars);
  for (const chunk of chunks) buffer.push(chunk);
  buffer.flush();
  return lines;
}

describe('boundedLines', () => {
  it('joins a line split across chunks and passes each complete line once, the last one at the flush', () => {
    expect(linesOf(['a\nb', 'c\n', 'd'], 10)).toEqual(['a', 'bc', 'd']);
    expect(linesOf(['', '\n', '\n'], 10)).toEqual(['', '']);
  });

  it('drops a line longer than the limit that ends in the same chunk; one at the limit passes', () => {
    expect(linesOf(['123456\nok\n12345\n'], 5)).toEqual(['ok', '12345']);
  });

  it('drops a line that outgrows the limit over several chunks, its end included, and goes on after it', () => {
    expect(linesOf(['abc', 'def', 'gh', 'ij\nnext\n'], 5)).toEqual(['next']);
    expect(linesOf(['abcdef', '\n', 'next\n'], 5)).toEqual(['next']);
  });

  it('never hands over the tail of an overlong line at the flush', () => {
    expect(linesOf(['abcdefgh', 'ij'], 5)).toEqual([]);
    expect(linesOf(['abcdefgh', 'ij\nlast'], 5)).toEqual(['last']);
  });
});

/** runProcess with generous limits, logging into a scratch folder. */
async function run(command: string, args: string[], extra: Partial<ProcessRequest> = {}) {
  const dir = await scratchDir();
  const logFile = path.join(dir, 'logs', 'run.log');
  const request: ProcessRequest = {
    command,
    args,
    cwd: dir,
    timeoutMs: 20_000,
    stallTimeoutMs: 20_000,
    logFile,
    logMaxBytes: 1024 * 1024,
    signal: new AbortController().signal,
    ...extra,
  };
  const result = await runProcess(request);
  return { result, log: await readFile(logFile, 'utf8'), dir };
}

const node = (script: string, extra: Partial<ProcessRequest> = {}) => run(process.execPath, ['-e', script], extra);

describe('runProcess: output', () => {
  it('a 3 MB line among short ones: onLine gets the short ones, stdout keeps all, the log stops at its cap', async () => {
    const lines: string[] = [];
    const script = "process.stdout.write('first\\n' + 'x'.repeat(3 << 20) + '\\nlast')";
    const { result, log } = await node(script, { logMaxBytes: 1000, onLine: (line) => lines.push(line) });
    expect(result.exitCode).toBe(0);
    expect(lines).toEqual(['first', 'last']);
    expect(result.stdout).toHaveLength('first\n'.length + (3 << 20) + '\nlast'.length);
    expect(result.tail).toHaveLength(4000);
    expect(result.tail.endsWith('x\nlast')).toBe(true);
    expect(log).toContain('[tend: log cut at 1000 bytes (log_max_bytes)]');
    expect(log.length).toBeLessThan(2000);
    expect(log).toMatch(/# exit: 0 after \d+ ms\n$/);
  });

  it('writes the input to stdin and closes it: a program that reads to the end of its input finishes', async () => {
    const { result } = await node('process.stdin.pipe(process.stdout)', { input: 'hello\n' });
    expect(result.exitCode).toBe(0);
    expect(result.stdout).toBe('hello\n');
  });

  it('keeps stderr in the tail and the log, not in stdout', async () => {
    const { result, log } = await node("console.error('FATAL: no key'); process.exit(3)");
    expect(result.exitCode).toBe(3);
    expect(result.stdout).toBe('');
    expect(result.tail).toContain('FATAL: no key');
    expect(log).toContain('FATAL: no key');
  });
});

describe('runProcess: programs that do not start', () => {
  it('a program that is not there is missing (the agent is unavailable), and nothing throws', async () => {
    const { result, log } = await run('tend-test-no-such-program', []);
    expect(result).toMatchObject({ exitCode: null, missingProgram: true, stdout: '', leftRunning: [] });
    expect(result.spawnError).toMatch(/ENOENT/);
    expect(log).toContain(`# ${result.spawnError}`);
  });

  it('a working directory that does not exist is said so, and is not a missing program', async () => {
    const dir = await scratchDir();
    const { result } = await run('true', [], { cwd: path.join(dir, 'gone') });
    expect(result.spawnError).toBe(`the working directory ${path.join(dir, 'gone')} does not exist`);
    expect(result.missingProgram).toBe(false);
  });
});

describe('runProcess: limits, aborts and signals', () => {
  it('a program that prints nothing for stallTimeoutMs is stopped as a stall', async () => {
    const { result, log } = await node('setTimeout(() => {}, 20000)', { timeoutMs: 0, stallTimeoutMs: 300 });
    expect(result).toMatchObject({ exitCode: null, stopped: 'stall', killedBy: undefined });
    expect(result.durationMs).toBeLessThan(10_000);
    expect(log).toMatch(/# exit: stopped \(stall\) after \d+ ms/);
  });

  it('a program that keeps printing past timeoutMs is stopped as a timeout, not a stall', async () => {
    // It prints at once, so even on a loaded machine node's start-up cannot eat the whole timeout.
    const script = "console.log('tick'); setInterval(() => console.log('tick'), 50)";
    const { result } = await node(script, { timeoutMs: 2_000, stallTimeoutMs: 10_000 });
    expect(result).toMatchObject({ exitCode: null, stopped: 'timeout' });
    expect(result.stdout).toContain('tick\n');
  });

  it('an abort stops the program', async () => {
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 200);
    const { result } = await node('setTimeout(() => {}, 20000)', { signal: controller.signal });
    expect(result).toMatchObject({ exitCode: null, stopped: 'aborted' });
  });

  it('a program killed by a signal tend did not send reports it as killedBy, with no exit code', async () => {
    const { result, log } = await run('sh', ['-c', 'kill -KILL $$']);
    expect(result).toMatchObject({ exitCode: null, killedBy: 'SIGKILL', stopped: undefined });
    expect(log).toMatch(/# exit: SIGKILL after/);
  });
});

describe('runProcess: the process group', () => {
  it('what the program left in its group is killed when it exits, and the run does not wait for it', async () => {
    const { result } = await run('sh', ['-c', 'sleep 30 & echo $!']);
    expect(result.exitCode).toBe(0);
    expect(result.durationMs).toBeLessThan(10_000);
    expect(alive(Number(result.stdout.trim()))).toBe(false);
    expect(result.leftRunning).toEqual([]);
  });

  it("records the program's identity and run marker in the pid file while it runs, and removes the file after", async () => {
    const dir = await scratchDir();
    const pidFile = path.join(dir, 'pids', 'agent.pid');
    const script = 'while [ ! -s "$P" ]; do sleep 0.05; done; cat "$P"; echo "$$ $TEND_PROCESS_RUN"';
    const { result } = await run('sh', ['-c', script], { pidFile, env: { P: pidFile } });
    const [identity = '', marker, self] = result.stdout.trim().split('\n');
    const [pid, markerInEnv] = (self ?? '').split(' ');
    expect(identity.split(' ')[0]).toBe(pid);
    expect(marker).toBe(markerInEnv);
    expect(marker).toMatch(new RegExp(`^${process.pid}-[0-9a-f]{12}$`));
    expect(existsSync(pidFile)).toBe(false);
  });
});
