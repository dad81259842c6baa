// Reads ORCHESTRATOR.md, pipelines/ and prompts/ from a repository; core/config-check.ts checks
// them together. Throws only when the file system fails, never for a user's mistake.
import { readdir, readFile, realpath, stat } from 'node:fs/promises';
import path from 'node:path';
import { PIPELINES_DIR, PROMPTS_DIR, SETTINGS_FILE, type LoadedConfig } from '../core/config.js';
import { checkConfig, LEADS_OUTSIDE, promptsNamed, type PipelineFile, type PromptText } from '../core/config-check.js';

async function readText(file: string): Promise<string | undefined> {
  try {
    return await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/** A prompt file's text; LEADS_OUTSIDE when it resolves (through a symlink) out of prompts/. */
async function readPrompt(root: string, rel: string): Promise<PromptText> {
  const text = await readText(path.join(root, rel));
  if (text === undefined) return undefined;
  const [real, dir] = await Promise.all([realpath(path.join(root, rel)), realpath(path.join(root, PROMPTS_DIR))]);
  return real.startsWith(dir + path.sep) ? text : LEADS_OUTSIDE;
}

/** The `.md` files of pipelines/, sorted by name; none when the folder does not exist. */
async function readPipelineFiles(root: string): Promise<PipelineFile[]> {
  let names: string[] = [];
  try {
    names = (await readdir(path.join(root, PIPELINES_DIR), { withFileTypes: true }))
      .filter((e) => e.isFile() && e.name.endsWith('.md'))
      .map((e) => e.name)
      .sort();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  const files: PipelineFile[] = [];
  for (const name of names) files.push({ name, text: await readFile(path.join(root, PIPELINES_DIR, name), 'utf8') });
  return files;
}

/** Reads the configuration files and checks them together (core/config-check.ts). */
export async function loadConfig(root: string): Promise<LoadedConfig> {
  const settings = await readText(path.join(root, SETTINGS_FILE));
  const pipelines = await readPipelineFiles(root);
  const prompts = new Map<string, PromptText>();
  for (const rel of promptsNamed(pipelines)) prompts.set(rel, await readPrompt(root, rel));
  return checkConfig({ settings, pipelines, prompt: (rel) => prompts.get(rel) });
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
