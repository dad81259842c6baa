// git's merge driver for item files, and its set-up: `.gitattributes` travels with the
// repository, but the driver's command is local git config, which a clone does not bring along.
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { planItemMerge } from '../core/item-merge.js';
import { git } from './git.js';
import { PACKAGE_ROOT } from './assets.js';

/** The line `.gitattributes` needs: every Markdown file under backlog/ merges through tend. */
export const ATTRIBUTES_LINE = 'backlog/**/*.md merge=tend';
export const DRIVER_NAME = 'tend: item.md merged key by key';

/** The driver command for this installation: node and tend's own script, by absolute path. */
export function driverCommand(): string {
  const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
  const script = path.join(PACKAGE_ROOT, 'bin', 'tend.js');
  return `${quote(process.execPath)} ${quote(script)} merge-driver %O %A %B %P`;
}

/** Merge three texts as git does (`git merge-file`); conflicts are marked, and counted. */
export async function mergeText(
  base: string,
  ours: string,
  theirs: string,
  name: string,
): Promise<{ text: string; conflicts: number }> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'tend-merge-'));
  try {
    const files = ['ours', 'base', 'theirs'].map((n) => path.join(dir, n));
    await Promise.all([ours, base, theirs].map((text, i) => writeFile(files[i] ?? '', text)));
    const labels = ['-L', `${name} (ours)`, '-L', `${name} (base)`, '-L', `${name} (theirs)`];
    // Without -p, git writes the result into the first file: read back byte for byte.
    const result = await git(dir, ['merge-file', ...labels, ...files]);
    if (result.exitCode < 0 || result.exitCode > 127) throw new Error(`git merge-file failed: ${result.stderr}`);
    return { text: await readFile(files[0] ?? '', 'utf8'), conflicts: result.exitCode };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * What git calls for an item file: merge %O (base), %A (ours, also where the result goes) and
 * %B (theirs). Returns the number of conflicts left in the text (0: merged cleanly).
 */
export async function runMergeDriver(base: string, ours: string, theirs: string, name: string): Promise<number> {
  const read = (f: string) => readFile(f, 'utf8');
  const [o, a, b] = await Promise.all([read(base), read(ours), read(theirs)]);
  const plan = planItemMerge(o, a, b);
  if (plan.kind === 'text') {
    const merged = await mergeText(o, a, b, name);
    await writeFile(ours, merged.text);
    return merged.conflicts;
  }
  const body = await mergeText(plan.bodies.base, plan.bodies.ours, plan.bodies.theirs, name);
  await writeFile(ours, plan.finish(body.text));
  return body.conflicts;
}

export interface DriverSetup {
  attributes: boolean;
  driver: 'set' | 'missing' | 'elsewhere';
  configured?: string;
}

/** Whether `.gitattributes` routes item files to the driver and the local config defines it. */
export async function driverSetup(root: string): Promise<DriverSetup> {
  const file = path.join(root, '.gitattributes');
  const text = existsSync(file) ? await readFile(file, 'utf8') : '';
  const attributes = text.split(/\r?\n/).some((l) => l.trim() === ATTRIBUTES_LINE);
  const got = await git(root, ['config', '--local', '--get', 'merge.tend.driver']);
  const configured = got.exitCode === 0 ? got.stdout.trim() : undefined;
  if (configured === undefined) return { attributes, driver: 'missing' };
  // Set by another installation of tend (moved, or another clone's path): it must still exist.
  const script = /'([^']*bin\/tend\.js)'/.exec(configured)?.[1];
  return { attributes, driver: script && existsSync(script) ? 'set' : 'elsewhere', configured };
}

/** Define the driver in the checkout's local git config (`tend init`, on every clone). */
export async function configureDriver(root: string): Promise<void> {
  for (const [key, value] of [
    ['merge.tend.name', DRIVER_NAME],
    ['merge.tend.driver', driverCommand()],
  ] as const) {
    const result = await git(root, ['config', '--local', key, value]);
    if (result.exitCode !== 0) throw new Error(`git config ${key} failed: ${result.stderr}`);
  }
}

/** `.gitattributes` with the driver's line added; undefined when it already has it. */
export async function attributesWithDriver(root: string): Promise<string | undefined> {
  const file = path.join(root, '.gitattributes');
  const before = existsSync(file) ? await readFile(file, 'utf8') : '';
  if (before.split(/\r?\n/).some((l) => l.trim() === ATTRIBUTES_LINE)) return undefined;
  const sep = before === '' || before.endsWith('\n') ? '' : '\n';
  return `${before}${sep}# item files merge key by key (tend merge-driver)\n${ATTRIBUTES_LINE}\n`;
}
