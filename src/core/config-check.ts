// Checking a configuration as a whole, from the texts of its files: ORCHESTRATOR.md, the pipeline
// files and the prompts they name. Pure: edges/config-files.ts reads the files and hands them
// over, so every rule here can be tried without a repository.
import { COMMAND_PLACEHOLDERS, PIPELINES_DIR, SETTINGS_FILE, type LoadedConfig } from './config.js';
import { parsePipeline, type ParsedPipeline, type Pipeline } from './pipeline.js';
import type { Problem } from './problem.js';
import { agentType, DEFAULT_SETTINGS, parseSettings, type Settings } from './settings.js';
import { unknownVariables } from './template.js';

/** What the reader found for a prompt whose symlink leads out of prompts/ (a symbol: no text can equal it). */
export const LEADS_OUTSIDE = Symbol('leads outside prompts/');

/** A prompt as read: its text, undefined when there is no such file, or LEADS_OUTSIDE. */
export type PromptText = string | undefined | typeof LEADS_OUTSIDE;

export interface PipelineFile {
  /** The file name in pipelines/, e.g. `default.md`. */
  name: string;
  text: string;
}

export interface ConfigTexts {
  /** ORCHESTRATOR.md; undefined when the repository has none. */
  settings: string | undefined;
  /** The `.md` files of pipelines/, sorted by name. */
  pipelines: PipelineFile[];
  /** A prompt by its repository-relative path, as the reader found it. */
  prompt: (path: string) => PromptText;
}

interface Found {
  errors: Problem[];
  warnings: Problem[];
}

interface SettingsPart {
  settings: Settings;
  context: string;
  /** Agents defined with errors: already reported, so not reported again as unknown. */
  brokenAgents: string[];
}

interface ParsedPipelines {
  pipelines: Map<string, Pipeline>;
  /** Pipelines with errors too: their valid phases' prompts and agents are checked all the same. */
  checked: Pipeline[];
}

const pipelineName = (file: PipelineFile) => file.name.slice(0, -'.md'.length);

function readSettings(text: string | undefined, found: Found): SettingsPart {
  if (text === undefined) {
    const missing = {
      file: SETTINGS_FILE,
      message: 'missing; every setting takes its default',
      fix: 'run `tend init`',
    };
    found.warnings.push(missing);
    return { settings: DEFAULT_SETTINGS, context: '', brokenAgents: [] };
  }
  const parsed = parseSettings(text, SETTINGS_FILE);
  found.errors.push(...parsed.errors);
  found.warnings.push(...parsed.warnings);
  return { settings: parsed.settings, context: parsed.context, brokenAgents: parsed.brokenAgents };
}

/**
 * Each pipeline file parsed once: the reader asks for the prompts the pipelines name (to read
 * them) and then checks the same files, and a YAML parse is most of the configuration's cost.
 */
const parsedFiles = new WeakMap<PipelineFile, { name: string; text: string; parsed: ParsedPipeline }>();

function parsedPipeline(file: PipelineFile): ParsedPipeline {
  const known = parsedFiles.get(file);
  if (known && known.name === file.name && known.text === file.text) return known.parsed;
  const parsed = parsePipeline(pipelineName(file), file.text, `${PIPELINES_DIR}/${file.name}`);
  parsedFiles.set(file, { name: file.name, text: file.text, parsed });
  return parsed;
}

function readPipelines(files: PipelineFile[], errors: Problem[]): ParsedPipelines {
  const pipelines = new Map<string, Pipeline>();
  const checked: Pipeline[] = [];
  if (files.length === 0) {
    errors.push({
      file: `${PIPELINES_DIR}/`,
      message: 'no pipeline found',
      fix: 'run `tend init` to install the default pipelines',
    });
  }
  for (const file of files) {
    const parsed = parsedPipeline(file);
    errors.push(...parsed.errors);
    if (parsed.pipeline) pipelines.set(parsed.pipeline.name, parsed.pipeline);
    const either = parsed.pipeline ?? parsed.partial;
    if (either) checked.push(either);
  }
  return { pipelines, checked };
}

/** Every prompt the pipelines name, once each: what the reader has to read before checking. */
export function promptsNamed(files: PipelineFile[]): string[] {
  const { checked } = readPipelines(files, []);
  return [...new Set(checked.flatMap((pipeline) => pipeline.phases.map((phase) => phase.prompt)))];
}

/** The prompts the pipelines name, each checked once; a missing one is reported once per pipeline. */
function checkPrompts(checked: Pipeline[], part: SettingsPart, texts: ConfigTexts, errors: Problem[]) {
  const prompts = new Map<string, string>();
  const missing = new Set<string>();
  for (const pipeline of checked) {
    for (const [i, phase] of pipeline.phases.entries()) {
      const at = pipeline.phaseAt?.[i];
      const where = { file: pipeline.file, line: at?.line, key: `phases[${at?.index ?? i}]` };
      const { settings, brokenAgents } = part;
      if (phase.agent && !agentType(settings, phase.agent) && !brokenAgents.includes(phase.agent)) {
        errors.push({
          ...where,
          message: `unknown agent ${JSON.stringify(phase.agent)}`,
          fix: 'use dry-run, claude, codex, opencode, or define it under `agents:` in ORCHESTRATOR.md',
        });
      }
      if (prompts.has(phase.prompt) || missing.has(`${pipeline.file} ${phase.prompt}`)) continue;
      const text = texts.prompt(phase.prompt);
      if (typeof text === 'string') {
        prompts.set(phase.prompt, text);
        errors.push(...templateErrors(phase.prompt, text));
        continue;
      }
      missing.add(`${pipeline.file} ${phase.prompt}`);
      errors.push(
        text === LEADS_OUTSIDE
          ? {
              file: phase.prompt,
              message: 'is a symlink that leads outside prompts/',
              fix: 'replace it with the file itself',
            }
          : {
              ...where,
              key: `${where.key}.prompt`,
              message: `prompt file ${phase.prompt} does not exist`,
              fix: 'create it, or run `tend init` to install the default prompts',
            },
      );
    }
  }
  return prompts;
}

function templateErrors(file: string, text: string): Problem[] {
  return unknownVariables(text).map((p) => ({
    file,
    line: p.line,
    message: `unknown template variable {{${p.variable}}}`,
    fix: 'see "Prompt variables" in the README',
  }));
}

/** ORCHESTRATOR.md's own references: the default pipeline, the default agent. */
function checkDefaults(part: SettingsPart, files: PipelineFile[], errors: Problem[]): void {
  const { settings, brokenAgents } = part;
  const pipelineNames = files.map(pipelineName);
  if (files.length > 0 && !pipelineNames.includes(settings.default_pipeline)) {
    errors.push({
      file: SETTINGS_FILE,
      key: 'default_pipeline',
      message: `no pipeline named ${JSON.stringify(settings.default_pipeline)}`,
      fix: `choose one of ${pipelineNames.join(', ')}`,
    });
  }
  if (!agentType(settings, settings.agent) && !brokenAgents.includes(settings.agent)) {
    errors.push({
      file: SETTINGS_FILE,
      key: 'agent',
      message: `unknown agent ${JSON.stringify(settings.agent)}`,
      fix: 'use dry-run, claude, codex, opencode, or define it under `agents:`',
    });
  }
}

/** Each agent under `agents:`: a command agent has its command, and every placeholder is known. */
function checkAgents(settings: Settings, errors: Problem[]): void {
  for (const [name, agent] of Object.entries(settings.agents)) {
    if (agentType(settings, name) === 'command' && !agent.command) {
      errors.push({
        file: SETTINGS_FILE,
        key: `agents.${name}.command`,
        message: 'a command agent needs `command:`',
        fix: 'e.g. command: ["my-agent", "--prompt-file", "{prompt_file}"]',
      });
    }
    const argv = [agent.command ?? [], agent.args].flat();
    for (const placeholder of argv.flatMap((a) => [...a.matchAll(/\{(\w+)\}/g)].map((m) => m[1] ?? ''))) {
      if (!(COMMAND_PLACEHOLDERS as readonly string[]).includes(placeholder)) {
        errors.push({
          file: SETTINGS_FILE,
          key: `agents.${name}`,
          message: `unknown placeholder {${placeholder}}`,
          fix: `use ${COMMAND_PLACEHOLDERS.map((p) => `{${p}}`).join(', ')}`,
        });
      }
    }
  }
}

/** The configuration and every error and warning in it, all at once; never throws for a user's mistake. */
export function checkConfig(texts: ConfigTexts): LoadedConfig {
  const found: Found = { errors: [], warnings: [] };
  const part = readSettings(texts.settings, found);
  const { pipelines, checked } = readPipelines(texts.pipelines, found.errors);
  const prompts = checkPrompts(checked, part, texts, found.errors);
  checkDefaults(part, texts.pipelines, found.errors);
  checkAgents(part.settings, found.errors);
  const { settings, context } = part;
  return { config: { settings, context, pipelines, prompts }, ...found };
}
