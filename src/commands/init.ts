// `tend init`: set up a repository with the default settings, pipelines and prompts. Never
// overwrites a file; running it twice changes nothing.
import { existsSync } from 'node:fs';
import { appendFile, mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { PACKAGE_ROOT } from '../assets.js';
import { PIPELINES_DIR, PROMPTS_DIR, SETTINGS_FILE } from '../config/load.js';
import { BACKLOG_DIR } from '../backlog/store.js';
import { splitFrontmatter } from '../frontmatter.js';
import { commitPaths, findRepoRoot, headCommit, initRepo, isIgnored } from '../git.js';
import { STATE_DIR } from '../state-dir.js';


const STARTER_CONTEXT = `Describe your project here for the agents: what it is, how to build and test it, the
conventions a change must follow, and anything an agent must never touch. Every agent tend
starts receives this text before its phase instructions.
`;

export interface InitResult {
  root: string;
  createdRepo: boolean;
  created: string[];
  kept: string[];
  commit?: string;
}

/** ORCHESTRATOR.md for a new project: tend's own settings reference with a blank context. */
async function starterSettings(): Promise<string> {
  const text = await readFile(path.join(PACKAGE_ROOT, SETTINGS_FILE), 'utf8');
  const split = splitFrontmatter(text);
  if (!('value' in split)) throw new Error(`the packaged ${SETTINGS_FILE} is invalid`);
  const { open, yaml, close } = split.value;
  return `${open}${yaml}${close}${STARTER_CONTEXT}`;
}

async function packagedFiles(dir: string): Promise<string[]> {
  const names = await readdir(path.join(PACKAGE_ROOT, dir));
  return names.filter((n) => n.endsWith('.md')).sort().map((n) => `${dir}/${n}`);
}

export async function init(cwd: string, options: { author?: string } = {}): Promise<InitResult> {
  let root = await findRepoRoot(cwd);
  const createdRepo = !root;
  if (!root) {
    await initRepo(cwd);
    root = path.resolve(cwd);
  }
  const files = new Map<string, () => Promise<string>>();
  files.set(SETTINGS_FILE, starterSettings);
  for (const rel of [...(await packagedFiles(PIPELINES_DIR)), ...(await packagedFiles(PROMPTS_DIR))]) {
    files.set(rel, () => readFile(path.join(PACKAGE_ROOT, rel), 'utf8'));
  }
  files.set(`${BACKLOG_DIR}/.gitkeep`, async () => '');

  const created: string[] = [];
  const kept: string[] = [];
  for (const [rel, content] of files) {
    const target = path.join(root, rel);
    if (existsSync(target)) {
      kept.push(rel);
      continue;
    }
    await mkdir(path.dirname(target), { recursive: true });
    // `wx`: if the file appeared since the check, keep it rather than overwrite it.
    await writeFile(target, await content(), { flag: 'wx' });
    created.push(rel);
  }
  await mkdir(path.join(root, STATE_DIR), { recursive: true });
  if (!(await isIgnored(root, `${STATE_DIR}/`))) {
    const gitignore = path.join(root, '.gitignore');
    const before = existsSync(gitignore) ? await readFile(gitignore, 'utf8') : '';
    const sep = before === '' || before.endsWith('\n') ? '' : '\n';
    await appendFile(gitignore, `${sep}# tend's local runtime state (locks, logs, worktrees)\n${STATE_DIR}/\n`);
    created.push('.gitignore');
  }
  const committed = created.length > 0 && (await commitPaths(root, created, `tend: init\n\nTend-Outcome: init\n`, { author: options.author }));
  const commit = committed ? await headCommit(root) : undefined;
  return { root, createdRepo, created, kept, commit };
}
