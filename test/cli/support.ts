// Shared setup for the CLI tests: a repository set up by `tend init` once per describe block,
// copied for each test that changes it, so every test gets a repo of its own cheaply.
import { cp, mkdir, mkdtemp, readFile, rm, symlink } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import { git, scratchDir, tendJson, tendOk } from '../helpers/repo.js';
import type { ItemJson, problemJson } from '../../src/core/board.js';

/** A repo initialized by the real `tend init` once for the enclosing describe block. */
export function sharedRepo(setup?: (root: string) => Promise<void>): () => string {
  let root = '';
  beforeAll(async () => {
    root = await mkdtemp(path.join(os.tmpdir(), 'tend-shared-'));
    await git(root, 'init', '--quiet', '--initial-branch=main');
    await git(root, 'config', 'commit.gpgsign', 'false');
    await git(root, 'config', 'gc.auto', '0');
    await tendOk(root, ['init']);
    await setup?.(root);
  });
  afterAll(async () => {
    if (root) await rm(root, { recursive: true, force: true });
  });
  return () => root;
}

/** A private copy of `template` (a whole repository), removed after the test. */
export async function copyRepo(template: string): Promise<string> {
  const dir = await scratchDir();
  await cp(template, dir, { recursive: true, verbatimSymlinks: true });
  return dir;
}

export function bytes(root: string, rel: string): Promise<Buffer> {
  return readFile(path.join(root, rel));
}

export async function headSubject(root: string): Promise<string> {
  return (await git(root, 'log', '-1', '--format=%s')).trim();
}

/** Paths changed by the HEAD commit. */
export async function headFiles(root: string): Promise<string[]> {
  return (await git(root, 'show', '--name-only', '--format=', 'HEAD')).split('\n').filter(Boolean);
}

export async function stagedFiles(root: string): Promise<string[]> {
  return (await git(root, 'diff', '--cached', '--name-only')).split('\n').filter(Boolean);
}

/** A PATH holding only git: no agent CLI (claude, codex, ...) can be found on it. */
export async function pathWithOnlyGit(): Promise<string> {
  const gitPath = (process.env.PATH ?? '')
    .split(path.delimiter)
    .map((dir) => path.join(dir, 'git'))
    .find((candidate) => existsSync(candidate));
  if (!gitPath) throw new Error('git is not on PATH');
  const bin = path.join(await scratchDir(), 'bin');
  await mkdir(bin);
  await symlink(gitPath, path.join(bin, 'git'));
  return bin;
}

/** Run outside any git repository, even if the temp folder sits inside one. */
export function outsideGitEnv(dir: string): Record<string, string> {
  return { GIT_CEILING_DIRECTORIES: path.dirname(dir) };
}

/** The documented `tend status --json` shapes, from the code that writes them. */
export type { ItemJson } from '../../src/core/board.js';
export type ProblemJson = ReturnType<typeof problemJson>;

export interface InvalidJson {
  path: string;
  id: string | null;
  location: string | null;
  problems: ProblemJson[];
}

export interface StatusJson {
  version: number;
  items: ItemJson[];
  counts: Record<string, number>;
  done: { count: number; shown: string[]; all: boolean };
  invalid: InvalidJson[];
  config: { errors: ProblemJson[]; warnings: ProblemJson[] };
}

export function statusJson(root: string, args: string[] = []): Promise<StatusJson> {
  return tendJson<StatusJson>(root, ['status', ...args]);
}

// eslint-disable-next-line no-control-regex
export const ANSI = /\x1b\[/;
