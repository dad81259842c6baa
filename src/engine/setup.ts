// `tend init`: set up a repository with the default settings, pipelines and prompts. Never
// overwrites a file; running it twice changes nothing, except to commit what an earlier init
// wrote and could not commit.
import { INIT_MESSAGE } from '../core/transition.js';
import { existsSync } from 'node:fs';
import { appendFile, mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { PACKAGE_ROOT } from '../edges/assets.js';
import { PIPELINES_DIR, PROMPTS_DIR, SETTINGS_FILE } from '../core/config.js';
import { BACKLOG_DIR } from '../core/backlog.js';
import { splitFrontmatter } from '../core/frontmatter.js';
import { parseSettings } from '../core/settings.js';
import { checkCanCommit, checkIdentity, findRepoRoot, git, headCommit, initRepo, isIgnored } from '../edges/git.js';
import { checkFolders } from '../edges/repo.js';
import { STATE_DIR } from '../edges/state-dir.js';
import { attributesWithDriver, configureDriver } from '../edges/merge-driver.js';
import { carryOut } from './writer.js';

const STARTER_CONTEXT = `Describe your project here for the agents: what it is, how to build and test it, the
conventions a change must follow, and anything an agent must never touch. Every agent tend
starts receives this text before its phase instructions.
`;

export interface InitResult {
  root: string;
  createdRepo: boolean;
  created: string[];
  kept: string[];
  /** Files an earlier `tend init` wrote but could not commit (git had no identity, say): committed now. */
  recovered: string[];
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
  return names
    .filter((n) => n.endsWith('.md'))
    .sort()
    .map((n) => `${dir}/${n}`);
}

/** The folders init writes into, checked before it writes anything. */
const INIT_DIRS = [PIPELINES_DIR, PROMPTS_DIR, BACKLOG_DIR, STATE_DIR];

const IGNORE_BLOCK = `# tend's local runtime state (locks, logs, worktrees)\n${STATE_DIR}/\n`;

/** Every file init installs, with its content. */
async function starterFiles(): Promise<Map<string, () => Promise<string>>> {
  const files = new Map<string, () => Promise<string>>();
  files.set(SETTINGS_FILE, starterSettings);
  for (const rel of [...(await packagedFiles(PIPELINES_DIR)), ...(await packagedFiles(PROMPTS_DIR))]) {
    files.set(rel, () => readFile(path.join(PACKAGE_ROOT, rel), 'utf8'));
  }
  files.set(`${BACKLOG_DIR}/.gitkeep`, async () => '');
  return files;
}

/** git.author from an ORCHESTRATOR.md already there, so init commits as the runs will. */
async function configuredAuthor(root: string): Promise<string | undefined> {
  const file = path.join(root, SETTINGS_FILE);
  if (!existsSync(file)) return undefined;
  return parseSettings(await readFile(file, 'utf8')).settings.git.author;
}

async function inHead(root: string, rel: string): Promise<string | undefined> {
  const result = await git(root, ['show', `HEAD:${rel}`]);
  return result.exitCode === 0 ? result.stdout : undefined;
}

/**
 * A file an earlier init wrote and could not commit: not in HEAD and exactly as init writes it.
 * A file the user changed (or wrote) is theirs, and stays out of tend's commit.
 */
async function leftByInit(root: string, rel: string, content: () => Promise<string>): Promise<boolean> {
  if ((await inHead(root, rel)) !== undefined) return false;
  return (await readFile(path.join(root, rel), 'utf8')) === (await content());
}

/** .gitignore whose only uncommitted change is the block an earlier init appended. */
async function gitignoreLeftByInit(root: string): Promise<boolean> {
  const file = path.join(root, '.gitignore');
  if (!existsSync(file)) return false;
  const before = (await inHead(root, '.gitignore')) ?? '';
  const sep = before === '' || before.endsWith('\n') ? '' : '\n';
  return (await readFile(file, 'utf8')) === `${before}${sep}${IGNORE_BLOCK}`;
}

export async function init(cwd: string, options: { author?: string } = {}): Promise<InitResult> {
  let root = await findRepoRoot(cwd);
  const author = options.author ?? (root ? await configuredAuthor(root) : undefined);
  // Everything a commit needs is checked before anything is written: a failed commit would
  // leave files behind, and the next init would take them for a finished set-up.
  await checkIdentity(root ?? cwd, author);
  if (root) {
    await checkCanCommit(root, author);
    await checkFolders(root, { writable: true, dirs: INIT_DIRS });
  }
  const createdRepo = !root;
  if (!root) {
    await initRepo(cwd);
    root = path.resolve(cwd);
    await checkFolders(root, { writable: true, dirs: INIT_DIRS });
  }
  const created: string[] = [];
  const kept: string[] = [];
  const recovered: string[] = [];
  for (const [rel, content] of await starterFiles()) {
    const target = path.join(root, rel);
    if (existsSync(target)) {
      (createdRepo || !(await leftByInit(root, rel, content)) ? kept : recovered).push(rel);
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
    await appendFile(gitignore, `${sep}${IGNORE_BLOCK}`);
    created.push('.gitignore');
  } else if (await gitignoreLeftByInit(root)) {
    recovered.push('.gitignore');
  }
  if (await addDriverAttributes(root)) created.push('.gitattributes');
  // Local git config does not travel with a clone: each init (run again on a clone) sets it.
  await configureDriver(root);
  const paths = [...created, ...recovered];
  const committed = paths.length > 0 && (await carryOut({ root, author }, { paths, message: INIT_MESSAGE }));
  const commit = committed ? await headCommit(root) : undefined;
  return { root, createdRepo, created, kept, recovered, commit };
}

/** `.gitattributes` sends item files to tend's merge driver; true when init added the line. */
async function addDriverAttributes(root: string): Promise<boolean> {
  const text = await attributesWithDriver(root);
  if (text === undefined) return false;
  await writeFile(path.join(root, '.gitattributes'), text);
  return true;
}
