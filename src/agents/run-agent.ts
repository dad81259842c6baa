// The one way an agent CLI is run: tend's environment, the pid file, activity from its JSON
// stdout events, and the fields of an AgentResult that every CLI shares. Each adapter adds
// only its argv and what it parses out of stdout.
import { jsonLines } from './limits.js';
import { agentEnv, runProcess } from '../edges/process.js';
import type { AgentRequest, AgentResult } from './types.js';

export interface AgentProcessSpec {
  command: string;
  args: string[];
  env: Record<string, string>;
  /** Written to stdin; without it stdin is /dev/null. */
  input?: string;
  /** What the agent is doing, from one JSON event on stdout; reported through `onActivity`. */
  activity?: (event: Record<string, unknown>) => string | undefined;
}

export async function runAgentProcess(
  req: AgentRequest,
  spec: AgentProcessSpec,
): Promise<{ stdout: string; base: AgentResult }> {
  const { activity } = spec;
  const proc = await runProcess({
    command: spec.command,
    args: spec.args,
    cwd: req.cwd,
    env: agentEnv(req, spec.env),
    input: spec.input,
    timeoutMs: req.timeoutMs,
    stallTimeoutMs: req.stallTimeoutMs,
    logFile: req.logFile,
    logMaxBytes: req.logMaxBytes,
    pidFile: req.pidFile,
    signal: req.signal,
    onLine: activity
      ? (line) => {
          const [event] = jsonLines(line);
          const what = event && activity(event);
          if (what) req.onActivity?.(what.slice(0, 120));
        }
      : undefined,
  });
  const base: AgentResult = {
    exitCode: proc.exitCode,
    killedBy: proc.killedBy,
    stopped: proc.stopped,
    durationMs: proc.durationMs,
    outputTail: proc.tail,
    spawnError: proc.spawnError,
    missingProgram: proc.missingProgram,
  };
  if (proc.leftRunning.length > 0) base.leftRunning = proc.leftRunning;
  return { stdout: proc.stdout, base };
}
