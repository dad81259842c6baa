// A pipeline file (`pipelines/<name>.md`): its phases in frontmatter, and in its body the text
// that tells triage when to choose it. Pure: the prompt files are checked by the loader.
import * as z from 'zod';
import { readYaml, splitFrontmatter } from './frontmatter.js';
import type { Problem } from './problem.js';
import { ID_PATTERN } from './slug.js';
import { argv, durationMs, isContainedRelativePath, issuesToProblems } from './schema-helpers.js';

/** Folder names in backlog/ that are not phases. */
export const RESERVED_FOLDERS = ['done', 'blocked'] as const;

const phaseName = z.string().regex(ID_PATTERN, 'expected a lowercase name such as tech-research');
const ARTIFACT_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

const phaseSchema = z.strictObject({
  name: phaseName,
  prompt: z.string().min(1).optional(),
  artifact: z.string().regex(ARTIFACT_NAME, 'expected a plain file name such as design.md').optional(),
  agent: z.string().min(1).optional(),
  model: z.string().min(1).optional(),
  timeout: durationMs.optional(),
  stall_timeout: durationMs.optional(),
  retries: z.int().min(0).max(20).optional(),
  approve: z.boolean().default(false),
  gate: argv.optional(),
  workspace: z.enum(['repo', 'worktree']).optional(),
  fanout: z.array(phaseName).min(1).optional(),
  on_reject: phaseName.optional(),
  max_loops: z.int().min(0).max(20).default(2),
});

const pipelineSchema = z.looseObject({
  phases: z.array(phaseSchema).min(1, 'a pipeline needs at least one phase'),
  concurrency: z.record(z.string(), z.int().min(1)).default({}),
});

export interface Phase extends Omit<z.output<typeof phaseSchema>, 'prompt' | 'artifact'> {
  /** Repository-relative path of the prompt template. */
  prompt: string;
  /** File name of the artifact, written in the item folder. */
  artifact: string;
}

export interface Pipeline {
  name: string;
  file: string;
  /** When triage should choose this pipeline (the file body). */
  description: string;
  phases: Phase[];
  concurrency: Record<string, number>;
  /** Where each phase is written: its position under `phases:` and its line, for error messages. */
  phaseAt?: { index: number; line?: number }[];
}

export interface ParsedPipeline {
  /** The pipeline, when the file has no errors. */
  pipeline?: Pipeline;
  /**
   * The phases that are valid on their own, also when the file has errors: the loader checks
   * their prompts and agents too, so every error of the configuration is reported in one go.
   */
  partial?: Pipeline;
  errors: Problem[];
}

export function parsePipeline(name: string, text: string, file: string): ParsedPipeline {
  if (!ID_PATTERN.test(name)) {
    return { errors: [{ file, message: `pipeline file name must be a lowercase slug such as quick-fix.md` }] };
  }
  const split = splitFrontmatter(text);
  if ('problem' in split) return { errors: [{ file, ...split.problem }] };
  const yaml = readYaml(split.value);
  if (yaml.problems.length > 0) return { errors: yaml.problems.map((p) => ({ file, ...p })) };
  const errors: Problem[] = [];
  const result = pipelineSchema.safeParse(yaml.data);
  if (!result.success) errors.push(...issuesToProblems(result.error.issues, file, yaml.lineAt, yaml.data));
  const valid = result.success
    ? { ...result.data, indexes: result.data.phases.map((_, i) => i) }
    : validParts(yaml.data);

  const at = (key: (string | number)[], message: string, fix?: string) => {
    const name = key
      .map((k) => (typeof k === 'number' ? `[${k}]` : k))
      .join('.')
      .replace(/\.\[/g, '[');
    errors.push({ file, line: yaml.lineAt(key), key: name, message, fix });
  };
  const phases: Phase[] = valid.phases.map((p, n) => {
    const i = valid.indexes[n] ?? n;
    const prompt = p.prompt ?? `${p.name}.md`;
    if (!isContainedRelativePath(prompt)) {
      at(['phases', i, 'prompt'], `must be a path inside prompts/, found ${JSON.stringify(prompt)}`);
    }
    return { ...p, prompt: `prompts/${prompt.replace(/^prompts\//, '')}`, artifact: p.artifact ?? `${p.name}.md` };
  });
  // Names as written, invalid phases included, so on_reject naming one is not an error too.
  const rawPhases: unknown[] = Array.isArray(yaml.data.phases) ? yaml.data.phases : [];
  const written = rawPhases.map((p) => (p as { name?: unknown } | null)?.name);
  const seen = new Set<string>();
  phases.forEach((p, n) => {
    const i = valid.indexes[n] ?? n;
    if (seen.has(p.name)) at(['phases', i, 'name'], `phase ${p.name} appears twice`);
    seen.add(p.name);
    if ((RESERVED_FOLDERS as readonly string[]).includes(p.name)) {
      at(['phases', i, 'name'], `${p.name} is reserved for backlog/${p.name}/`, 'choose another phase name');
    }
    if (p.artifact.toLowerCase() === 'item.md') {
      at(['phases', i, 'artifact'], 'item.md is the item itself', 'name the artifact after the phase');
    }
    if (p.on_reject !== undefined && !written.slice(0, i).includes(p.on_reject)) {
      const found = JSON.stringify(p.on_reject);
      at(['phases', i, 'on_reject'], `must name an earlier phase of this pipeline, found ${found}`);
    }
  });
  for (const phase of Object.keys(valid.concurrency)) {
    if (!written.includes(phase)) at(['concurrency', phase], `names no phase of this pipeline`);
  }
  const phaseAt = valid.indexes.map((index) => ({ index, line: yaml.lineAt(['phases', index]) }));
  const description = split.value.body.trim();
  const pipeline = { name, file, description, phases, concurrency: valid.concurrency, phaseAt };
  return errors.length > 0 ? { partial: pipeline, errors } : { pipeline, errors };
}

/** The phases (with their positions in the file) and the concurrency that are valid on their own. */
function validParts(data: Record<string, unknown>): {
  phases: z.output<typeof phaseSchema>[];
  indexes: number[];
  concurrency: Record<string, number>;
} {
  const phases: z.output<typeof phaseSchema>[] = [];
  const indexes: number[] = [];
  (Array.isArray(data.phases) ? (data.phases as unknown[]) : []).forEach((raw, i) => {
    const phase = phaseSchema.safeParse(raw);
    if (phase.success) {
      phases.push(phase.data);
      indexes.push(i);
    }
  });
  const concurrency = pipelineSchema.shape.concurrency.safeParse(data.concurrency);
  return { phases, indexes, concurrency: concurrency.success ? concurrency.data : {} };
}

/** Where a fan-out lens writes: `review.md` and lens `security` -> `review-security.md`. */
export function lensArtifact(artifact: string, lens: string): string {
  const dot = artifact.lastIndexOf('.');
  const ext = dot > 0 ? artifact.slice(dot) : '';
  return `${artifact.slice(0, artifact.length - ext.length)}-${lens}${ext}`;
}

/** The position in `pipeline` of the phase that writes `file` (its artifact, or one lens's), or -1. */
export function phaseIndexOfArtifact(pipeline: Pipeline, file: string): number {
  return pipeline.phases.findIndex(
    (p) => p.artifact === file || (p.fanout ?? []).some((lens) => lensArtifact(p.artifact, lens) === file),
  );
}

/**
 * What a person's edit of artifacts makes stale: every artifact present (`present`) that a later
 * phase wrote than the earliest artifact edited (`source`), those edited too excepted (the person
 * has seen to them). Undefined when no artifact of the pipeline was edited or nothing later exists.
 */
export function staleAfterEdit(
  pipeline: Pipeline,
  edited: readonly string[],
  present: readonly string[],
): { source: string; stale: string[] } | undefined {
  const phases = edited
    .map((file) => ({ file, index: phaseIndexOfArtifact(pipeline, file) }))
    .filter((e) => e.index >= 0);
  if (phases.length === 0) return undefined;
  const first = phases.reduce((a, b) => (b.index < a.index ? b : a));
  const stale = present.filter((file) => !edited.includes(file) && phaseIndexOfArtifact(pipeline, file) > first.index);
  return stale.length > 0 ? { source: first.file, stale: inPipelineOrder(pipeline, stale) } : undefined;
}

/** Artifact names in the order their phases run (names of no phase last, as they came). */
export function inPipelineOrder(pipeline: Pipeline, files: readonly string[]): string[] {
  const at = (file: string) => {
    const index = phaseIndexOfArtifact(pipeline, file);
    return index === -1 ? Infinity : index;
  };
  return [...files].sort((a, b) => at(a) - at(b));
}
