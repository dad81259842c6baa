// A bare repository standing for GitHub and clones of it standing for machines, on this machine.
import path from 'node:path';
import { git, initializedRepo, scratchDir, tendOk, writeTree } from './repo.js';
import { settingsFor } from './engine.js';

/** A bare remote holding a `tend init`ed repository (with `files`), and the path of its first clone. */
export async function sharedRepo(
  files: Record<string, string> = {},
  settings?: { script: string; overrides?: Record<string, string | number> },
): Promise<{ remote: string; first: string }> {
  const first = await initializedRepo();
  if (settings) await writeTree(first, { 'ORCHESTRATOR.md': settingsFor(settings.script, settings.overrides) });
  await writeTree(first, files);
  await git(first, 'add', '--all');
  await git(first, 'commit', '--quiet', '--allow-empty', '-m', 'test setup');
  const remote = path.join(await scratchDir(), 'remote.git');
  await git(first, 'init', '--quiet', '--bare', '--initial-branch=main', remote);
  await git(first, 'remote', 'add', 'origin', remote);
  await git(first, 'push', '--quiet', '-u', 'origin', 'main');
  return { remote, first };
}

/** Another machine: a clone of `remote` on which `tend init` has run (it sets the local merge driver). */
export async function cloneOf(remote: string): Promise<string> {
  const dir = path.join(await scratchDir(), 'clone');
  await git(path.dirname(dir), 'clone', '--quiet', remote, dir);
  await git(dir, 'config', 'commit.gpgsign', 'false');
  await git(dir, 'config', 'gc.auto', '0');
  await tendOk(dir, ['init']);
  return dir;
}

/** A pipeline of two phases run in the checkout, for the sync tests (`pipelines/pair.md`). */
export const PAIR = '---\nphases:\n  - { name: triage }\n  - { name: build }\n---\nTwo phases in the checkout.\n';

/** An inbox item on the pair pipeline. */
export const pairItem = (title: string): string =>
  `---\ntitle: ${title}\npipeline: pair\ncreated: 2026-12-01T00:00:00Z\n---\n${title}: some text.\n`;

/** `item|outcome|phase` of every transition commit on `repo`'s main, sorted. */
export async function transitions(repo: string): Promise<string[]> {
  const format =
    '%(trailers:key=Tend-Item,valueonly,separator=)|%(trailers:key=Tend-Outcome,valueonly,separator=)|%(trailers:key=Tend-Phase,valueonly,separator=)';
  const out = await git(repo, 'log', 'main', `--format=${format}`, '--grep=^Tend-Item:');
  return out.split('\n').filter(Boolean).sort();
}
