// A run killed half-way through a transition: the next run commits what it left, under the
// transition's own message, instead of logging tend's own move as a human's.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { mkdir, rename } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { finishPending, pendingFor, record } from '../../src/backlog/journal.js';
import { commitMessage } from '../../src/transition.js';
import { item, itemField, runRepo, tendSubjects } from '../helpers/engine.js';
import { git, tend } from '../helpers/repo.js';

const claimed = item('Half done', 'pipeline: quick-fix\nstatus: running\nattempts: 1\nowner: elsewhere:1\n');

/** A pid that is certainly not running any more: a process that has exited. */
function deadPid(): number {
  return Number(spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' }).stdout);
}

/** What a run killed at `step` of "triage done, move to build" leaves behind. */
async function killedMidTransition(step: 'before-move' | 'after-move'): Promise<string> {
  const root = await runRepo('write-artifact.mjs', { 'backlog/triage/half/item.md': claimed, 'backlog/triage/half/triage.md': '---\npipeline: quick-fix\n---\nTriage.\n' });
  const transition = { id: 'half', phase: 'triage', summary: 'triage -> build', outcome: 'done', agent: 'fake' };
  const paths = ['backlog/build/half', ':(glob)backlog/*/half/**', 'backlog/triage/half'];
  const entry = pendingFor('half', 'backlog/build/half/item.md', { status: 'queued', attempts: 0, owner: undefined }, paths, commitMessage(transition), undefined);
  await record(root, { ...entry, pid: deadPid() });
  if (step === 'after-move') await mkdir(path.join(root, 'backlog/build'), { recursive: true });
  if (step === 'after-move') await rename(path.join(root, 'backlog/triage/half'), path.join(root, 'backlog/build/half'));
  return root;
}

const journal = (root: string) => readdirSync(path.join(root, '.tend/journal'));

/** finishPending runs in this process, so its commits need an identity of the repository's own. */
async function withIdentity(root: string): Promise<string> {
  await git(root, 'config', 'user.name', 'Test User');
  await git(root, 'config', 'user.email', 'test@example.com');
  return root;
}

describe('a transition interrupted by kill -9', () => {
  it('moved but not committed: the next run commits it under its own message, then goes on', async () => {
    const root = await killedMidTransition('after-move');
    const result = await tend(root, ['run', '--once']);
    expect(result.exitCode).toBe(0);
    expect(result.stderr).toMatch(/committed 1 transition\(s\) a killed run had carried out but not committed:\n {2}tend: half triage -> build/);
    const subjects = await tendSubjects(root);
    expect(subjects.slice(0, 2)).toEqual(['tend: half triage -> build', 'tend: half build started (attempt 1)']);
    expect(subjects.join('\n')).not.toMatch(/by hand/);
    // The finished commit holds the transition's changes, not the claim it interrupted.
    const committed = await git(root, 'show', `HEAD~${subjects.length - 1}:backlog/build/half/item.md`);
    expect(committed).toMatch(/^status: queued$/m);
    expect(committed).toMatch(/^attempts: 0$/m);
    expect(committed).not.toMatch(/^owner:/m);
    expect(await git(root, 'show', '--stat', '--format=', `HEAD~${subjects.length - 1}`)).toMatch(/backlog\/\{triage => build\}\/half\/triage\.md/);
    expect(existsSync(path.join(root, 'backlog/done/half/review.md'))).toBe(true);
    expect(journal(root)).toEqual([]);
    expect(await git(root, 'status', '--porcelain', '--', 'backlog')).toBe('');
  });

  it('recorded but not moved: nothing is committed for it and the item is requeued where it was', async () => {
    const root = await killedMidTransition('before-move');
    const result = await tend(root, ['run', '--once']);
    expect(result.exitCode).toBe(0);
    expect(result.stderr).not.toMatch(/killed run had carried out/);
    const subjects = await tendSubjects(root);
    expect(subjects[0]).toBe('tend: half triage requeued (the run holding it ended)');
    expect(subjects.at(-1)).toBe('tend: half review -> done');
    expect(journal(root)).toEqual([]);
  });

  it('already committed: the record is dropped and nothing is committed twice', async () => {
    const root = await withIdentity(await killedMidTransition('after-move'));
    await git(root, 'add', '--all', 'backlog');
    await git(root, 'commit', '--quiet', '-m', 'tend: half triage -> build');
    const before = await git(root, 'rev-parse', 'HEAD');
    expect(await finishPending(root, 'main')).toEqual([]);
    expect(await git(root, 'rev-parse', 'HEAD')).toBe(before);
    expect(journal(root)).toEqual([]);
    expect(await itemField(root, 'backlog/build/half/item.md', 'status')).toBe('running');
  });
});

describe('a transition another tend process is carrying out right now', () => {
  const children: ReturnType<typeof spawn>[] = [];
  afterEach(() => {
    for (const c of children.splice(0)) c.kill('SIGKILL');
  });

  it('is left alone', async () => {
    const root = await withIdentity(await killedMidTransition('after-move'));
    const other = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 30000)'], { stdio: 'ignore' });
    children.push(other);
    const name = journal(root)[0] ?? '';
    const entry = pendingFor('half', 'backlog/build/half/item.md', { status: 'queued' }, ['backlog/build/half'], 'tend: half triage -> build', undefined);
    await record(root, { ...entry, pid: other.pid ?? 0 });
    const before = await git(root, 'rev-parse', 'HEAD');
    expect(await finishPending(root, 'main')).toEqual(['tend: half triage -> build']);
    // The dead process's record was finished; the live one's is still there, untouched.
    expect(journal(root)).toEqual([`half.${other.pid}.json`]);
    expect(name).not.toBe(`half.${other.pid}.json`);
    expect(await git(root, 'rev-parse', 'HEAD')).not.toBe(before);
  });
});
