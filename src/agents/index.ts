// Picks the adapter for an agent name from the settings.
import type { Settings } from '../core/settings.js';
import { agentType } from '../core/settings.js';
import { TendError } from '../core/problem.js';
import { claudeAgent } from './claude.js';
import { codexAgent } from './codex.js';
import { commandAgent } from './command.js';
import { dryRunAgent } from './dry-run.js';
import { opencodeAgent } from './opencode.js';
import type { Agent } from './types.js';

export function createAgent(name: string, settings: Settings): Agent {
  const type = agentType(settings, name);
  const config = settings.agents[name];
  const argv =
    config?.command === undefined ? undefined : Array.isArray(config.command) ? config.command : [config.command];
  const cli = (program: string) => ({
    command: argv?.[0] ?? program,
    args: [...(argv?.slice(1) ?? []), ...(config?.args ?? [])],
    env: config?.env ?? {},
  });
  switch (type) {
    case 'dry-run':
      return dryRunAgent();
    case 'claude':
      return claudeAgent(cli('claude'));
    case 'codex':
      return codexAgent(cli('codex'));
    case 'opencode':
      return opencodeAgent(cli('opencode'));
    case 'command':
      if (!argv) throw new TendError(`agent ${name} has no command`, `set agents.${name}.command in ORCHESTRATOR.md`);
      return commandAgent({
        name,
        argv: [...argv, ...(config?.args ?? [])],
        input: config?.input ?? 'file',
        env: config?.env ?? {},
      });
    default:
      throw new TendError(
        `unknown agent ${JSON.stringify(name)}`,
        'use dry-run, claude, codex, opencode, or define it under `agents:` in ORCHESTRATOR.md',
      );
  }
}
