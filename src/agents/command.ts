// Any program as an agent, from an argv template in ORCHESTRATOR.md. The prompt reaches it as
// a file ({prompt_file}), on stdin, or as one argument ({prompt}); never through a shell.
import { dollars, jsonLines } from './limits.js';
import { runAgentProcess } from './run-agent.js';
import type { Agent, AgentRequest, AgentResult } from './types.js';

export interface CommandAgentOptions {
  name: string;
  argv: string[];
  input: 'file' | 'stdin' | 'argument';
  env: Record<string, string>;
}

export function expandArgv(template: string[], req: AgentRequest, input: CommandAgentOptions['input']): string[] {
  const values: Record<string, string> = {
    prompt_file: req.promptFile,
    prompt: req.prompt,
    artifact_path: req.artifactPath,
    model: req.model ?? '',
    phase: req.phase,
    id: req.id,
    workspace: req.cwd,
    lens: req.lens ?? '',
  };
  const argv = template.map((arg) =>
    arg.replace(/\{(\w+)\}/g, (all, name: string) => (Object.hasOwn(values, name) ? (values[name] ?? '') : all)),
  );
  if (input === 'argument' && !template.some((a) => a.includes('{prompt}'))) argv.push(req.prompt);
  return argv;
}

export function commandAgent(options: CommandAgentOptions): Agent {
  return {
    label: (model) => (model ? `${options.name} (${model})` : options.name),
    async run(req): Promise<AgentResult> {
      const [command = '', ...args] = expandArgv(options.argv, req, options.input);
      const { stdout, base } = await runAgentProcess(req, {
        command,
        args,
        env: options.env,
        input: options.input === 'stdin' ? req.prompt : undefined,
      });
      // A program may report its cost as a JSON line, the way Claude Code does.
      const reports = [...jsonLines(stdout)].reverse();
      const report = reports.find((e) => typeof e.total_cost_usd === 'number' || typeof e.cost_usd === 'number');
      if (report) base.costUsd = dollars(report.total_cost_usd ?? report.cost_usd);
      return base;
    },
  };
}
