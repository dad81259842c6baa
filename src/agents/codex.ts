// Codex (`codex exec --json`) and opencode (`opencode run --format json`): prompt as an
// argument (codex can hang on an open stdin, PITFALLS.md), JSONL events for activity and tokens.
import { jsonLines, usageLimitIn } from './limits.js';
import { agentEnv, runProcess } from './process.js';
import type { CliAgentOptions } from './claude.js';
import type { Agent, AgentRequest, AgentResult } from './types.js';

function num(v: unknown): number {
  return typeof v === 'number' && Number.isFinite(v) ? v : 0;
}

async function runJsonCli(options: CliAgentOptions, req: AgentRequest, args: string[], activity: (e: Record<string, unknown>) => string | undefined) {
  return runProcess({
    command: options.command,
    args,
    cwd: req.cwd,
    env: agentEnv(req, options.env),
    timeoutMs: req.timeoutMs,
    stallTimeoutMs: req.stallTimeoutMs,
    logFile: req.logFile,
    logMaxBytes: req.logMaxBytes,
    pidFile: req.pidFile,
    signal: req.signal,
    onLine: (line) => {
      const [event] = jsonLines(line);
      const what = event && activity(event);
      if (what) req.onActivity?.(what.slice(0, 120));
    },
  });
}

export function codexAgent(options: CliAgentOptions): Agent {
  return {
    label: (model) => (model ? `codex (${model})` : 'codex'),
    async run(req) {
      const args = ['exec', '--json', '--sandbox', 'workspace-write', ...(req.model ? ['--model', req.model] : []), ...options.args, req.prompt];
      const proc = await runJsonCli(options, req, args, (e) => {
        const item = e.item as { type?: string; command?: string; text?: string } | undefined;
        return item?.command ?? item?.text?.split('\n')[0] ?? (typeof e.type === 'string' ? e.type : undefined);
      });
      return parseCodexOutput(proc.stdout, { exitCode: proc.exitCode, stopped: proc.stopped, durationMs: proc.durationMs, outputTail: proc.tail, spawnError: proc.spawnError, missingProgram: proc.missingProgram }, new Date());
    },
  };
}

/** Tokens from `turn.completed.usage`; errors and usage limits from error events. Pure. */
export function parseCodexOutput(stdout: string, base: AgentResult, now: Date): AgentResult {
  const result: AgentResult = { ...base };
  let input = 0;
  let output = 0;
  for (const e of jsonLines(stdout)) {
    if (e.type === 'turn.completed') {
      const usage = (e.usage ?? {}) as Record<string, unknown>;
      input += num(usage.input_tokens);
      output += num(usage.output_tokens);
    }
    if (e.type === 'error' || e.type === 'turn.failed') {
      const message = String((e.error as { message?: string } | undefined)?.message ?? e.message ?? 'error');
      result.error = message.slice(0, 500);
      result.usageLimit ??= usageLimitIn(message, now);
    }
  }
  if (input || output) result.tokens = { input, output };
  if (base.exitCode !== 0 && !result.usageLimit) result.usageLimit = usageLimitIn(base.outputTail, now);
  return result;
}

export function opencodeAgent(options: CliAgentOptions): Agent {
  return {
    label: (model) => (model ? `opencode (${model})` : 'opencode'),
    async run(req) {
      const args = ['run', '--format', 'json', ...(req.model ? ['-m', req.model] : []), ...options.args, req.prompt];
      const proc = await runJsonCli(options, req, args, (e) => {
        const part = e.part as { type?: string; tool?: string; text?: string } | undefined;
        return part?.tool ?? part?.text?.split('\n')[0] ?? part?.type;
      });
      const result: AgentResult = { exitCode: proc.exitCode, stopped: proc.stopped, durationMs: proc.durationMs, outputTail: proc.tail, spawnError: proc.spawnError, missingProgram: proc.missingProgram };
      let cost = 0;
      let input = 0;
      let output = 0;
      for (const e of jsonLines(proc.stdout)) {
        const part = (e.part ?? e) as { cost?: unknown; tokens?: { input?: unknown; output?: unknown } };
        cost += num(part.cost);
        input += num(part.tokens?.input);
        output += num(part.tokens?.output);
      }
      if (cost) result.costUsd = cost;
      if (input || output) result.tokens = { input, output };
      if (proc.exitCode !== 0) result.usageLimit = usageLimitIn(proc.tail, new Date());
      return result;
    },
  };
}
