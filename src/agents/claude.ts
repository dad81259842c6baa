// Claude Code: `claude -p --output-format stream-json --verbose`, prompt on stdin. The stream
// feeds the live view and the stall timeout; its final `result` event carries cost and usage.
import { dollars, finiteNumber, jsonLines, usageLimitIn } from './limits.js';
import { runAgentProcess } from './run-agent.js';
import type { Agent, AgentRequest, AgentResult, CliAgentOptions } from './types.js';

/** What the agent is doing, from one stream event: a tool it calls or the start of its text. */
function activity(event: Record<string, unknown>): string | undefined {
  const message = event.message as
    { content?: { type?: string; name?: string; text?: string; input?: Record<string, unknown> }[] } | undefined;
  for (const part of message?.content ?? []) {
    if (part.type === 'tool_use') {
      const target = part.input?.file_path ?? part.input?.path ?? part.input?.command ?? part.input?.pattern;
      return `${part.name ?? 'tool'}${typeof target === 'string' ? ` ${target}` : ''}`;
    }
    if (part.type === 'text' && part.text?.trim()) return part.text.trim().split('\n')[0];
  }
  return undefined;
}

export function claudeAgent(options: CliAgentOptions): Agent {
  return {
    label: (model) => (model ? `claude (${model})` : 'claude'),
    async run(req: AgentRequest): Promise<AgentResult> {
      const args = [
        '-p',
        '--output-format',
        'stream-json',
        '--verbose',
        ...(req.model ? ['--model', req.model] : []),
        ...options.args,
      ];
      const { stdout, base } = await runAgentProcess(req, {
        command: options.command,
        args,
        env: options.env,
        input: req.prompt,
        activity,
      });
      return parseClaudeOutput(stdout, base, new Date());
    },
  };
}

/** Read Claude Code's stream (or single JSON) output into an AgentResult. Pure. */
export function parseClaudeOutput(stdout: string, base: AgentResult, now: Date): AgentResult {
  const events = jsonLines(stdout);
  const result: AgentResult = { ...base };
  const final = [...events].reverse().find((e) => e.type === 'result');
  // Only `status: rejected` stops a run: the stream also reports `allowed` events that carry
  // `overageStatus: "rejected"` (extra usage disabled) on runs that go on and succeed.
  const rejected = events.find(
    (e) => e.type === 'rate_limit_event' && ((e.rate_limit_info ?? e) as Record<string, unknown>).status === 'rejected',
  );
  if (final) {
    result.costUsd = dollars(final.total_cost_usd);
    const usage = final.usage as Record<string, unknown> | undefined;
    if (usage) {
      const input =
        (finiteNumber(usage.input_tokens) ?? 0) +
        (finiteNumber(usage.cache_creation_input_tokens) ?? 0) +
        (finiteNumber(usage.cache_read_input_tokens) ?? 0);
      result.tokens = { input, output: finiteNumber(usage.output_tokens) ?? 0 };
    }
    if (typeof final.session_id === 'string') result.sessionId = final.session_id;
    result.turns = finiteNumber(final.num_turns);
    if (final.is_error === true || (typeof final.subtype === 'string' && final.subtype !== 'success')) {
      result.error = `${String(final.subtype ?? 'error')}: ${String(final.result ?? '').slice(0, 500)}`.trim();
      const text = String(final.result ?? '');
      if (final.subtype === 'error_max_budget_usd')
        result.usageLimit = { message: 'Claude stopped at its --max-budget-usd cap' };
      else if (final.api_error_status === 429 || usageLimitIn(text, now))
        result.usageLimit = usageLimitIn(text, now) ?? { message: text.slice(0, 300) };
    }
  }
  if (rejected && !result.usageLimit && (!final || result.error)) {
    const info = (rejected.rate_limit_info ?? rejected) as Record<string, unknown>;
    const resets = finiteNumber(info.resetsAt) ?? finiteNumber(info.resets_at);
    result.usageLimit = {
      message: 'Claude usage limit reached (rate_limit_event: rejected)',
      resetsAt: resets ? new Date(resets * (resets < 1e12 ? 1000 : 1)) : undefined,
    };
  }
  if (!final && !result.usageLimit && base.exitCode !== 0) {
    result.usageLimit = usageLimitIn(base.outputTail, now);
  }
  return result;
}
