// ORCHESTRATOR.md settings: a pure schema with a default for every key. ORCHESTRATOR.md in
// tend's own repository is the reference that documents each one.
import * as z from 'zod';
import { readYaml, splitFrontmatter } from './frontmatter.js';
import type { Problem } from './problem.js';
import { argv, durationMs, issuesToProblems } from './schema-helpers.js';

export const AGENT_TYPES = ['dry-run', 'claude', 'codex', 'opencode', 'command'] as const;
export type AgentType = (typeof AGENT_TYPES)[number];

const agentSchema = z.strictObject({
  type: z.enum(AGENT_TYPES).optional(),
  command: argv.optional(),
  args: z.array(z.string()).default([]),
  model: z.string().min(1).optional(),
  input: z.enum(['argument', 'stdin', 'file']).optional(),
  env: z.record(z.string(), z.string()).default({}),
});

export const settingsSchema = z.looseObject({
  agent: z.string().min(1).default('claude'),
  model: z.string().min(1).optional(),
  agents: z.record(z.string(), agentSchema).default({}),
  default_pipeline: z.string().min(1).default('coding'),
  concurrency: z.int().min(1).max(64).default(1),
  timeout: durationMs.default(30 * 60_000),
  stall_timeout: durationMs.default(10 * 60_000),
  retries: z.int().min(0).max(20).default(2),
  retry_backoff: durationMs.default(60_000),
  workspace: z.enum(['repo', 'worktree']).default('repo'),
  merge: z.enum(['none', 'ff', 'merge', 'pr']).default('none'),
  budget: z
    .strictObject({
      per_item_usd: z.number().positive().optional(),
      per_run_usd: z.number().positive().optional(),
      // Summed over the rolling last 24 hours from the commits' Tend-Cost-USD trailers.
      per_day_usd: z.number().positive().optional(),
    })
    .prefault({}),
  git: z
    .strictObject({
      branch: z.string().min(1).optional(),
      remote: z.string().min(1).optional(),
      // How often a live run with a remote fetches it when nothing of its own is to push.
      sync_every: durationMs.default(30_000),
      // A claim another clone's run holds is taken over this long after its phase's timeout.
      lease_grace: durationMs.default(10 * 60_000),
      author: z
        .string()
        .regex(/^[^<>]+ <[^<>]+>$/, 'expected "Name <email>"')
        .optional(),
      // Keep tend/<id> after its work has landed (merge: ff or merge); merge: none always keeps it.
      keep_branches: z.boolean().default(false),
    })
    .prefault({}),
  hooks: z
    .strictObject({
      after_create: z.string().min(1).optional(),
      before_run: z.string().min(1).optional(),
      after_run: z.string().min(1).optional(),
      before_remove: z.string().min(1).optional(),
      timeout: durationMs.default(10 * 60_000),
    })
    .prefault({}),
  log_max_bytes: z.int().min(1024).default(1_048_576),
});

export type Settings = z.output<typeof settingsSchema>;
export type AgentSettings = z.output<typeof agentSchema>;

export const SETTING_KEYS = Object.keys(settingsSchema.shape);

export interface ParsedSettings {
  settings: Settings;
  /** The body of ORCHESTRATOR.md: context every agent receives. */
  context: string;
  errors: Problem[];
  warnings: Problem[];
  /** Agents under `agents:` left out for their errors: a phase naming one is not "unknown". */
  brokenAgents: string[];
}

export const DEFAULT_SETTINGS: Settings = settingsSchema.parse({});

/**
 * Parse ORCHESTRATOR.md text. On errors, `settings` holds the valid settings and the defaults for
 * the broken ones, so the rest of the configuration is checked against what the user meant.
 */
export function parseSettings(text: string, file = 'ORCHESTRATOR.md'): ParsedSettings {
  const failed = (errors: Problem[], context = ''): ParsedSettings => ({
    settings: DEFAULT_SETTINGS,
    context,
    errors,
    warnings: [],
    brokenAgents: [],
  });
  const split = splitFrontmatter(text);
  if ('problem' in split) return failed([{ file, ...split.problem }]);
  const context = split.value.body.trim();
  const yaml = readYaml(split.value);
  if (yaml.problems.length > 0)
    return failed(
      yaml.problems.map((p) => ({ file, ...p })),
      context,
    );
  const data = Object.fromEntries(Object.entries(yaml.data).filter(([, v]) => v !== null));
  const warnings: Problem[] = Object.keys(data)
    .filter((k) => !SETTING_KEYS.includes(k))
    .map((k) => ({
      file,
      line: yaml.keyLines.get(k),
      key: k,
      message: 'unknown setting, ignored',
      fix: `known settings: ${SETTING_KEYS.join(', ')}`,
    }));
  const result = settingsSchema.safeParse(data);
  if (result.success) return { settings: result.data, context, errors: [], warnings, brokenAgents: [] };
  const errors = issuesToProblems(result.error.issues, file, yaml.lineAt, data);
  const { valid, brokenAgents } = withoutBroken(data, result.error.issues);
  const partial = settingsSchema.safeParse(valid);
  return { settings: partial.success ? partial.data : DEFAULT_SETTINGS, context, errors, warnings, brokenAgents };
}

/** `data` without the settings that have errors: a broken agent leaves only itself out of `agents:`. */
function withoutBroken(
  data: Record<string, unknown>,
  issues: readonly { path: readonly PropertyKey[] }[],
): { valid: Record<string, unknown>; brokenAgents: string[] } {
  const valid = { ...data };
  const brokenAgents: string[] = [];
  for (const { path } of issues) {
    const [top, name] = path;
    if (top === 'agents' && typeof name === 'string' && valid.agents && typeof valid.agents === 'object') {
      const { [name]: _broken, ...rest } = valid.agents as Record<string, unknown>;
      valid.agents = rest;
      brokenAgents.push(name);
    } else if (typeof top === 'string') {
      delete valid[top];
    }
  }
  return { valid, brokenAgents };
}

/** The type of a named agent: a built-in name, or what `agents.<name>.type` says. */
export function agentType(settings: Settings, name: string): AgentType | undefined {
  const configured = settings.agents[name];
  if (configured?.type) return configured.type;
  if ((AGENT_TYPES as readonly string[]).includes(name)) return name as AgentType;
  return configured?.command ? 'command' : undefined;
}
