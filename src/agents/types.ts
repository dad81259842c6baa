// The interface every agent CLI sits behind. The engine knows nothing of a particular CLI.

export interface AgentRequest {
  /** Item id and phase, for logs and for agents (dry-run) that shape their output by phase. */
  id: string;
  phase: string;
  /** The pipeline the item follows (dry-run's triage keeps it). */
  pipeline: string;
  /** The review lens in a fan-out. */
  lens?: string;
  /** The rendered prompt: context, phase instructions and the item. */
  prompt: string;
  /** Absolute path of a file holding the same prompt (for agents that read a file). */
  promptFile: string;
  /** Absolute path where the phase must write its artifact. */
  artifactPath: string;
  /** Directory the agent runs in. */
  cwd: string;
  model?: string;
  timeoutMs: number;
  /** Stop an agent that prints nothing for this long. */
  stallTimeoutMs: number;
  /** Absolute path of the log file for this run. */
  logFile: string;
  logMaxBytes: number;
  /** Where to record the agent's process group while it runs. */
  pidFile?: string;
  /** Aborted when tend is shutting down: the agent is stopped at once. */
  signal: AbortSignal;
  /** Reports what the agent is doing now (a short line), when its CLI streams progress. */
  onActivity?: (line: string) => void;
}

export interface UsageLimit {
  /** When the provider says the limit resets, if it says. */
  resetsAt?: Date;
  message: string;
}

export interface AgentResult {
  /** Exit code, or null when the process was killed. */
  exitCode: number | null;
  /** The signal that ended the program when tend did not stop it (SIGSEGV, SIGKILL from the OOM killer). */
  killedBy?: NodeJS.Signals;
  /** How the run ended when not by itself. */
  stopped?: 'timeout' | 'stall' | 'aborted';
  durationMs: number;
  costUsd?: number;
  tokens?: { input: number; output: number };
  sessionId?: string;
  turns?: number;
  /** The agent reported an error even if it exited 0 (e.g. Claude's `is_error`). */
  error?: string;
  /** The provider refused for a rate or usage limit: not the item's fault, do not count it. */
  usageLimit?: UsageLimit;
  /** The program could not be started. */
  spawnError?: string;
  /** ...because it is not installed or not executable: not the item's fault, the run stops. */
  missingProgram?: boolean;
  /** The last lines of output, for blocked_reason and error messages. */
  outputTail: string;
  /** Processes the agent started outside its process group, found running when it ended. */
  leftRunning?: { pid: number; command: string; stopped: boolean }[];
}

export interface Agent {
  /** The name used in config and commit trailers, e.g. `claude (opus)`. */
  label(model?: string): string;
  run(request: AgentRequest): Promise<AgentResult>;
}

/** A built-in CLI adapter's settings: the program, extra arguments after tend's own, its env. */
export interface CliAgentOptions {
  command: string;
  args: string[];
  env: Record<string, string>;
}
