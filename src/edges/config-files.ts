// Reads ORCHESTRATOR.md, pipelines/ and prompts/ from a repository and checks them together.
// Returns every error and warning at once; never throws for a user's mistake.
import { readdir, readFile, realpath, stat } from 'node:fs/promises';
import path from 'node:path';
import type { Problem } from '../core/problem.js';
import { COMMAND_PLACEHOLDERS, PIPELINES_DIR, PROMPTS_DIR, SETTINGS_FILE, type LoadedConfig } from '../core/config.js';
import { unknownVariables } from '../core/template.js';
import { parsePipeline, type Pipeline } from '../core/pipeline.js';
import { agentType, DEFAULT_SETTINGS, parseSettings } from '../core/settings.js';

async function readText(file: string): Promise<string | undefined> {
  try {
    return await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/** A prompt file's text; 'outside' when it resolves (through a symlink) out of prompts/. */
async function readPrompt(root: string, rel: string): Promise<string | undefined | 'outside'> {
  const text = await readText(path.join(root, rel));
  if (text === undefined) return undefined;
  const [real, dir] = await Promise.all([realpath(path.join(root, rel)), realpath(path.join(root, PROMPTS_DIR))]);
  return real.startsWith(dir + path.sep) ? text : 'outside';
}

export async function loadConfig(root: string): Promise<LoadedConfig> {
  const errors: Problem[] = [];
  const warnings: Problem[] = [];

  const settingsText = await readText(path.join(root, SETTINGS_FILE));
  let settings = DEFAULT_SETTINGS;
  let context = '';
  let brokenAgents: string[] = [];
  if (settingsText === undefined) {
    warnings.push({ file: SETTINGS_FILE, message: 'missing; every setting takes its default', fix: 'run `tend init`' });
  } else {
    const parsed = parseSettings(settingsText, SETTINGS_FILE);
    ({ settings, context, brokenAgents } = parsed);
    errors.push(...parsed.errors);
    warnings.push(...parsed.warnings);
  }

  const pipelines = new Map<string, Pipeline>();
  // Pipelines with errors too: their valid phases' prompts and agents are checked all the same.
  const checked: Pipeline[] = [];
  let names: string[] = [];
  try {
    names = (await readdir(path.join(root, PIPELINES_DIR), { withFileTypes: true }))
      .filter((e) => e.isFile() && e.name.endsWith('.md'))
      .map((e) => e.name)
      .sort();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  if (names.length === 0) {
    errors.push({
      file: `${PIPELINES_DIR}/`,
      message: 'no pipeline found',
      fix: 'run `tend init` to install the default pipelines',
    });
  }
  for (const name of names) {
    const file = `${PIPELINES_DIR}/${name}`;
    const text = await readFile(path.join(root, file), 'utf8');
    const parsed = parsePipeline(name.slice(0, -'.md'.length), text, file);
    errors.push(...parsed.errors);
    if (parsed.pipeline) pipelines.set(parsed.pipeline.name, parsed.pipeline);
    const either = parsed.pipeline ?? parsed.partial;
    if (either) checked.push(either);
  }

  const prompts = new Map<string, string>();
  const missing = new Set<string>();
  for (const pipeline of checked) {
    for (const [i, phase] of pipeline.phases.entries()) {
      const at = pipeline.phaseAt?.[i];
      const where = { file: pipeline.file, line: at?.line, key: `phases[${at?.index ?? i}]` };
      if (phase.agent && !agentType(settings, phase.agent) && !brokenAgents.includes(phase.agent)) {
        errors.push({
          ...where,
          message: `unknown agent ${JSON.stringify(phase.agent)}`,
          fix: 'use dry-run, claude, codex, opencode, or define it under `agents:` in ORCHESTRATOR.md',
        });
      }
      if (prompts.has(phase.prompt) || missing.has(`${pipeline.file} ${phase.prompt}`)) continue;
      const text = await readPrompt(root, phase.prompt);
      if (text === 'outside') {
        errors.push({
          file: phase.prompt,
          message: 'is a symlink that leads outside prompts/',
          fix: 'replace it with the file itself',
        });
        missing.add(`${pipeline.file} ${phase.prompt}`);
        continue;
      }
      if (text === undefined) {
        errors.push({
          ...where,
          key: `${where.key}.prompt`,
          message: `prompt file ${phase.prompt} does not exist`,
          fix: 'create it, or run `tend init` to install the default prompts',
        });
        missing.add(`${pipeline.file} ${phase.prompt}`);
        continue;
      }
      prompts.set(phase.prompt, text);
      for (const p of unknownVariables(text)) {
        errors.push({
          file: phase.prompt,
          line: p.line,
          message: `unknown template variable {{${p.variable}}}`,
          fix: 'see "Prompt variables" in the README',
        });
      }
    }
  }

  const pipelineNames = names.map((n) => n.slice(0, -'.md'.length));
  if (names.length > 0 && !pipelineNames.includes(settings.default_pipeline)) {
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
  return { config: { settings, context, pipelines, prompts }, errors, warnings };
}

/** The newest modification time among the configuration files (0 when there are none). */
export async function configChangedAt(root: string): Promise<number> {
  const files = [SETTINGS_FILE];
  for (const dir of [PIPELINES_DIR, PROMPTS_DIR]) {
    try {
      files.push(...(await readdir(path.join(root, dir))).map((name) => `${dir}/${name}`));
    } catch {
      // No such folder: nothing changed there.
    }
  }
  const times = await Promise.all(
    files.map((f) =>
      stat(path.join(root, f)).then(
        (s) => s.mtimeMs,
        () => 0,
      ),
    ),
  );
  return Math.max(0, ...times);
}
