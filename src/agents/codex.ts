// Codex: `codex exec --json -`, prompt on stdin, which is closed once written (codex waits for
// the end of its stdin and hangs on one left open). Not an argument: one argument is capped at
// 128 KiB on Linux and anyone's `ps` shows it. JSONL events for activity and tokens.
import { finiteNumber, jsonLines, usageLimitIn } from './limits.js';
import { runAgentProcess } from './run-agent.js';
import type { Agent, AgentResult, CliAgentOptions } from './types.js';

/** What the agent is doing, from one event: the command it runs, the start of its text, or the event type. */
function activity(event: Record<string, unknown>): string | undefined {
  const item = event.item as { type?: string; command?: string; text?: string } | undefined;
  return item?.command ?? item?.text?.split('\n')[0] ?? (typeof event.type === 'string' ? event.type : undefined);
}

export function codexAgent(options: CliAgentOptions): Agent {
  return {
    label: (model) => (model ? `codex (${model})` : 'codex'),
    async run(req) {
      const args = [
        'exec',
        '--json',
        '--sandbox',
        'workspace-write',
        ...(req.model ? ['--model', req.model] : []),
        ...options.args,
        '-',
      ];
      const { stdout, base } = await runAgentProcess(req, {
        command: options.command,
        args,
        env: options.env,
        input: req.prompt,
        activity,
      });
      return parseCodexOutput(stdout, base, new Date());
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
      input += finiteNumber(usage.input_tokens) ?? 0;
      output += finiteNumber(usage.output_tokens) ?? 0;
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
