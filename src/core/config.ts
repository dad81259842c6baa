// The configuration as data: ORCHESTRATOR.md's settings and context, the pipelines and the
// prompt templates. Pure; core/config-check.ts checks them, edges/config-files.ts reads the files.
import type { Pipeline } from './pipeline.js';
import type { Problem } from './problem.js';
import type { Settings } from './settings.js';

/** The placeholders a command agent's argv may use. */
export const COMMAND_PLACEHOLDERS = [
  'prompt_file',
  'prompt',
  'artifact_path',
  'model',
  'phase',
  'id',
  'workspace',
  'lens',
] as const;

export const SETTINGS_FILE = 'ORCHESTRATOR.md';
export const PIPELINES_DIR = 'pipelines';
export const PROMPTS_DIR = 'prompts';

export interface Config {
  settings: Settings;
  /** ORCHESTRATOR.md body: the project context every agent receives. */
  context: string;
  pipelines: Map<string, Pipeline>;
  /** Prompt templates by repository-relative path. */
  prompts: Map<string, string>;
}

export interface LoadedConfig {
  config: Config;
  errors: Problem[];
  warnings: Problem[];
}

/** Every phase name used by any pipeline: the phase folders backlog/ may hold. */
export function phaseNames(config: Config): Set<string> {
  return new Set([...config.pipelines.values()].flatMap((p) => p.phases.map((ph) => ph.name)));
}
