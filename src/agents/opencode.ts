// opencode: `opencode run --format json`, prompt on stdin (opencode reads a piped stdin as the
// message; an argument is capped at 128 KiB and shows in `ps`); JSON events for activity, cost
// and tokens.
import { dollars, finiteNumber, jsonLines, usageLimitIn } from './limits.js';
import { runAgentProcess } from './run-agent.js';
import type { Agent, AgentResult, CliAgentOptions } from './types.js';

/** What the agent is doing, from one event: the tool it calls, the start of its text, or the part type. */
function activity(event: Record<string, unknown>): string | undefined {
  const part = event.part as { type?: string; tool?: string; text?: string } | undefined;
  return part?.tool ?? part?.text?.split('\n')[0] ?? part?.type;
}

export function opencodeAgent(options: CliAgentOptions): Agent {
  return {
    label: (model) => (model ? `opencode (${model})` : 'opencode'),
    async run(req) {
      const args = ['run', '--format', 'json', ...(req.model ? ['-m', req.model] : []), ...options.args];
      const { stdout, base } = await runAgentProcess(req, {
        command: options.command,
        args,
        env: options.env,
        input: req.prompt,
        activity,
      });
      return parseOpencodeOutput(stdout, base, new Date());
    },
  };
}

/** Cost and tokens summed over the events' parts; a usage limit from the tail on failure. Pure. */
export function parseOpencodeOutput(stdout: string, base: AgentResult, now: Date): AgentResult {
  const result: AgentResult = { ...base };
  let cost = 0;
  let input = 0;
  let output = 0;
  for (const e of jsonLines(stdout)) {
    const part = (e.part ?? e) as { cost?: unknown; tokens?: { input?: unknown; output?: unknown } };
    cost += dollars(part.cost) ?? 0;
    input += finiteNumber(part.tokens?.input) ?? 0;
    output += finiteNumber(part.tokens?.output) ?? 0;
  }
  if (cost) result.costUsd = cost;
  if (input || output) result.tokens = { input, output };
  if (base.exitCode !== 0) result.usageLimit = usageLimitIn(base.outputTail, now);
  return result;
}
