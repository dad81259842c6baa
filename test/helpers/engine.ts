// Repositories set up for `tend run`: the default pipelines plus an ORCHESTRATOR.md that points
// at one of the fake agents in test/fixtures/agents/.
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { readYaml, splitFrontmatter } from '../../src/core/frontmatter.js';
import { git, initializedRepo, PACKAGE_ROOT, read, writeTree } from './repo.js';

export const FIXTURES = path.join(PACKAGE_ROOT, 'test', 'fixtures', 'agents');

/** ORCHESTRATOR.md using fake agent `script` (a file in test/fixtures/agents/), fast retries. */
export function settingsFor(script: string, overrides: Record<string, string | number> = {}): string {
  const settings = { retries: 1, retry_backoff: '0s', timeout: '20s', ...overrides };
  const agents =
    'agents' in overrides
      ? ''
      : `agents:
  fake:
    type: command
    command: [${JSON.stringify(process.execPath)}, ${JSON.stringify(path.join(FIXTURES, script))}]
`;
  return `---
agent: fake
${Object.entries(settings)
  .map(([k, v]) => `${k}: ${v}`)
  .join('\n')}
${agents}---
Test project.
`;
}

/** An initialized repository whose settings use `script`, committed, with `items` in the inbox. */
export async function runRepo(
  script: string,
  items: Record<string, string | Buffer> = {},
  settings: Record<string, string | number> = {},
): Promise<string> {
  const root = await initializedRepo();
  await writeTree(root, { 'ORCHESTRATOR.md': settingsFor(script, settings), ...items });
  await git(root, 'add', '--all');
  await git(root, 'commit', '--quiet', '-m', 'test setup');
  return root;
}

/** Subjects of the commits tend made, oldest first. */
export async function tendSubjects(root: string): Promise<string[]> {
  const out = await git(root, 'log', '--reverse', '--format=%s', '--grep=^Tend-Item:');
  return out.split('\n').filter(Boolean);
}

/** A frontmatter value of an item file as text (parsed, so body lines never match). */
export async function itemField(root: string, rel: string, key: string): Promise<string | undefined> {
  const split = splitFrontmatter(await read(root, rel));
  if (!('value' in split)) throw new Error(`${rel} has broken frontmatter`);
  const value = readYaml(split.value).data[key];
  return value === undefined || value === null ? undefined : typeof value === 'string' ? value : JSON.stringify(value);
}

export async function filesIn(root: string, rel: string): Promise<string[]> {
  return (await readdir(path.join(root, rel))).sort();
}

export function item(title: string, extra = ''): string {
  return `---\ntitle: ${title}\n${extra}---\n${title}: some text.\n`;
}
