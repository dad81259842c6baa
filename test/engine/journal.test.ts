// A tend process killed half-way through a transition: what comes next commits what it left,
// under the transition's own message, instead of logging tend's own move as a human's; and never
// commits anything that has changed since.
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { record, sha256 } from '../../src/edges/journal.js';
import { carryOut, PENDING } from '../../src/engine/writer.js';
import { parseItem, serializeItem, updateItem } from '../../src/core/item.js';
import { commitMessage } from '../../src/core/transition.js';
import { item, itemField, runRepo, tendSubjects } from '../helpers/engine.js';
import { git, read, tend } from '../helpers/repo.js';

/** A pid no process can have: the kernel hands out pids below pid_max only. */
function deadPid(): number {
  return Number(readFileSync('/proc/sys/kernel/pid_max', 'utf8'));
}

/** The commit whose subject is `subject`. */
async function commitNamed(root: string, subject: string): Promise<string> {
  return git(root, 'log', '-1', '--format=%H', '--fixed-strings', `--grep=${subject}`);
}

type Step = 'recorded' | 'moved' | 'written';

/**
 * What a process killed after `step` of a transition leaves: its journal record (under `pid`),
 * and the item moved from `from` to `to` and/or rewritten, exactly as applyTransition does.
 */
async function interrupted(
  root: string,
  t: { id: string; from: string; to: string; changes: Record<string, unknown>; summary: string; phase: string },
  step: Step,
  pid = deadPid(),
): Promise<void> {
  const inbox = t.from.endsWith('.md');
  const source = inbox ? t.from : `${t.from}/item.md`;
  const before = await read(root, source);
  const parsed = parseItem(before, source, t.id).item;
  if (!parsed) throw new Error(`${source} does not parse`);
  const after = serializeItem(updateItem(parsed, t.changes));
  const file = `${t.to}/item.md`;
  const message = commitMessage({ id: t.id, phase: t.phase, summary: t.summary, outcome: 'done' });
  const moved = t.from !== t.to;
  await record(root, {
    pid,
    id: t.id,
    file,
    moved,
    before: sha256(before),
    after,
    paths: [t.to, `:(glob)backlog/*/${t.id}/**`],
    sources: moved ? [t.from] : [],
    message,
  });
  if (step === 'recorded') return;
  if (moved) {
    await mkdir(path.join(root, t.to, inbox ? '' : '..'), { recursive: true });
    await rename(path.join(root, t.from), path.join(root, inbox ? file : t.to));
  }
  if (step === 'written') await writeFile(path.join(root, file), after);
}

const claimed = item('Half done', 'pipeline: quick-fix\nstatus: running\nattempts: 1\nowner: elsewhere:1\n');
const triageDone = {
  id: 'half',
  from: 'backlog/triage/half',
  to: 'backlog/build/half',
  changes: { status: 'queued', attempts: 0, owner: undefined },
  summary: 'triage -> build',
  phase: 'triage',
};

async function claimedRepo(): Promise<string> {
  return runRepo('write-artifact.mjs', {
    'backlog/triage/half/item.md': claimed,
    'backlog/triage/half/triage.md': '---\npipeline: quick-fix\n---\nTriage.\n',
  });
}

const journal = (root: string) =>
  existsSync(path.join(root, '.tend/journal')) ? readdirSync(path.join(root, '.tend/journal')) : [];

/** The writer finishing the journal's records, as a run or a command does before anything else. */
const finishPending = (root: string, branch: string) => carryOut({ root, branch }, PENDING);

/** finishPending runs in this process, so its commits need an identity of the repository's own. */
async function withIdentity(root: string): Promise<string> {
  await git(root, 'config', 'user.name', 'Test User');
  await git(root, 'config', 'user.email', 'test@example.com');
  return root;
}

describe('a transition cut short by kill -9', () => {
  for (const step of ['moved', 'written'] as const) {
    it(`${step}, not committed: the next run commits it under its own message, then goes on`, async () => {
      const root = await claimedRepo();
      await interrupted(root, triageDone, step);
      const result = await tend(root, ['run', '--once']);
      expect(result.exitCode).toBe(0);
      expect(result.stderr).toMatch(
        /committed 1 transition\(s\) that a killed tend process had carried out but not committed:\n {2}tend: half triage -> build/,
      );
      const subjects = await tendSubjects(root);
      expect(subjects.slice(0, 2)).toEqual(['tend: half triage -> build', 'tend: half build started (attempt 1)']);
      expect(subjects.join('\n')).not.toMatch(/by hand/);
      // The finished commit holds the transition's changes, and the move of the whole folder.
      const finished = await commitNamed(root, 'tend: half triage -> build');
      const committed = await git(root, 'show', `${finished}:backlog/build/half/item.md`);
      expect(committed).toMatch(/^status: queued$/m);
      expect(committed).toMatch(/^attempts: 0$/m);
      expect(committed).not.toMatch(/^owner:/m);
      expect(await git(root, 'show', '--stat', '--format=', finished)).toMatch(
        /backlog\/\{triage => build\}\/half\/triage\.md/,
      );
      expect(existsSync(path.join(root, 'backlog/done/half/review.md'))).toBe(true);
      expect(journal(root)).toEqual([]);
      expect(await git(root, 'status', '--porcelain', '--', 'backlog')).toBe('');
    });
  }

  it('recorded, not moved: nothing is committed for it and the item is requeued where it was', async () => {
    const root = await claimedRepo();
    await interrupted(root, triageDone, 'recorded');
    const result = await tend(root, ['run', '--once']);
    expect(result.exitCode).toBe(0);
    expect(result.stderr).not.toMatch(/killed tend process had carried out/);
    const subjects = await tendSubjects(root);
    expect(subjects[0]).toBe('tend: half triage requeued (the run holding it ended)');
    expect(subjects.at(-1)).toBe('tend: half review -> done');
    expect(journal(root)).toEqual([]);
  });

  it('a claim recorded but never written is not replayed, whatever else is in the folder', async () => {
    const root = await claimedRepo();
    await writeFile(path.join(root, 'backlog/triage/half/notes.txt'), 'a human note, not committed\n');
    const claim = {
      ...triageDone,
      to: triageDone.from,
      changes: { status: 'running', attempts: 2, owner: 'me:1' },
      summary: 'triage started (attempt 2)',
    };
    await interrupted(await withIdentity(root), claim, 'recorded');
    expect((await finishPending(root, 'main')).committed).toEqual([]);
    expect(await itemField(root, 'backlog/triage/half/item.md', 'attempts')).toBe('1');
    expect(journal(root)).toEqual([]);
  });

  it('committed already, then edited by a human: the record is dropped and the edit is not overwritten', async () => {
    const root = await withIdentity(await claimedRepo());
    await interrupted(root, triageDone, 'written');
    await git(root, 'add', '--all', 'backlog');
    await git(root, 'commit', '--quiet', '-m', 'tend: half triage -> build');
    const file = path.join(root, 'backlog/build/half/item.md');
    await writeFile(
      file,
      (await readFile(file, 'utf8')).replace('priority: 3', 'priority: 1').replace('some text.', 'some text, edited.'),
    );
    const edited = await readFile(file, 'utf8');
    const head = await git(root, 'rev-parse', 'HEAD');
    expect((await finishPending(root, 'main')).committed).toEqual([]);
    expect(await git(root, 'rev-parse', 'HEAD')).toBe(head);
    expect(await readFile(file, 'utf8')).toBe(edited);
    expect(journal(root)).toEqual([]);
  });

  it('an intake cut short after the move does not take in a new inbox file written at the same path since', async () => {
    const root = await runRepo('write-artifact.mjs', { 'backlog/fresh.md': item('Fresh', 'pipeline: quick-fix\n') });
    await interrupted(
      root,
      {
        id: 'fresh',
        from: 'backlog/fresh.md',
        to: 'backlog/triage/fresh',
        changes: { status: 'queued', attempts: 0 },
        summary: 'inbox -> triage',
        phase: 'inbox',
      },
      'moved',
    );
    await writeFile(path.join(root, 'backlog/fresh.md'), item('Fresh again', 'pipeline: quick-fix\n'));
    const result = await tend(root, ['run', '--once']);
    expect(result.exitCode).toBe(0);
    const subjects = await tendSubjects(root);
    expect(subjects[0]).toBe('tend: fresh inbox -> triage');
    // The new file at the old path is not the moved one's: it is not in that commit, deleted or added.
    expect(
      await git(
        root,
        'show',
        '--no-renames',
        '--name-status',
        '--format=',
        await commitNamed(root, 'tend: fresh inbox -> triage'),
      ),
    ).toBe('A\tbacklog/triage/fresh/item.md');
    expect(subjects).toContain('tend: fresh-2 inbox -> triage');
    expect(await itemField(root, 'backlog/done/fresh-2/item.md', 'title')).toBe('Fresh again');
    expect(await itemField(root, 'backlog/done/fresh/item.md', 'title')).toBe('Fresh');
  });

  it('`tend approve` killed after its move: run again, it finishes that approval and does not skip a phase', async () => {
    const gated =
      '---\nphases:\n  - { name: prd, artifact: PRD.md, approve: true }\n  - { name: build }\n  - { name: ship }\n---\nGated.\n';
    const root = await runRepo('write-artifact.mjs', {
      'pipelines/gated.md': gated,
      'backlog/prd/ok/item.md': item('Ok', 'pipeline: gated\nstatus: waiting\nattempts: 1\n'),
      'backlog/prd/ok/PRD.md': '# PRD\n',
    });
    await interrupted(
      root,
      {
        id: 'ok',
        from: 'backlog/prd/ok',
        to: 'backlog/build/ok',
        changes: { status: 'queued', attempts: 0 },
        summary: 'prd -> build (approved)',
        phase: 'prd',
      },
      'moved',
    );
    const again = await tend(root, ['approve', 'ok']);
    expect(again.stderr).toMatch(
      /committed 1 transition\(s\) a killed tend process had left uncommitted: tend: ok prd -> build \(approved\)/,
    );
    expect(again.exitCode).toBe(1);
    expect(again.stderr).toMatch(/ok is not waiting for approval \(status: queued, in build\/\)/);
    expect(await tendSubjects(root)).toEqual(['tend: ok prd -> build (approved)']);
    expect(existsSync(path.join(root, 'backlog/build/ok/item.md'))).toBe(true);
  });
});

describe('a transition whose commit failed', () => {
  it('left by a real `tend approve` that could not commit (git busy): the next run commits it under its own message', async () => {
    const gated =
      '---\nphases:\n  - { name: prd, artifact: PRD.md, approve: true }\n  - { name: build }\n---\nGated.\n';
    const root = await runRepo('write-artifact.mjs', {
      'pipelines/gated.md': gated,
      'backlog/prd/w/item.md': item('W', 'pipeline: gated\nstatus: waiting\nattempts: 1\n'),
      'backlog/prd/w/PRD.md': '# PRD\n',
    });
    // Another git command holds the index for longer than tend waits for it.
    await writeFile(path.join(root, '.git/index.lock'), '');
    const approve = await tend(root, ['approve', 'w']);
    expect(approve.exitCode).toBe(1);
    expect(existsSync(path.join(root, 'backlog/build/w/item.md'))).toBe(true);
    expect(journal(root)).toHaveLength(1);
    await rm(path.join(root, '.git/index.lock'));
    const result = await tend(root, ['run', '--once']);
    expect(result.exitCode).toBe(0);
    expect(result.stderr).toMatch(/tend: w prd -> build \(approved\)/);
    expect(await tendSubjects(root)).toEqual([
      'tend: w prd -> build (approved)',
      'tend: w build started (attempt 1)',
      'tend: w build -> done',
    ]);
    expect(journal(root)).toEqual([]);
  });
});

describe('a transition another tend process is carrying out right now', () => {
  const children: ReturnType<typeof spawn>[] = [];
  afterEach(() => {
    for (const c of children.splice(0)) c.kill('SIGKILL');
  });

  it('is left alone, and its item is reported busy', async () => {
    const root = await withIdentity(await claimedRepo());
    const other = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 30000)'], { stdio: 'ignore' });
    children.push(other);
    await interrupted(root, triageDone, 'moved', other.pid);
    const head = await git(root, 'rev-parse', 'HEAD');
    const pending = await finishPending(root, 'main');
    expect(pending.committed).toEqual([]);
    expect([...pending.busy]).toEqual(['half']);
    expect(journal(root)).toEqual([`half.${other.pid}.json`]);
    expect(await git(root, 'rev-parse', 'HEAD')).toBe(head);
  });

  it('unless its pid now names another process (a different start time): then it is finished', async () => {
    const root = await withIdentity(await claimedRepo());
    const other = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 30000)'], { stdio: 'ignore' });
    children.push(other);
    await interrupted(root, triageDone, 'moved', other.pid);
    const file = path.join(root, '.tend/journal', `half.${other.pid}.json`);
    const entry = JSON.parse(await readFile(file, 'utf8')) as { process: string };
    expect(entry.process).toMatch(new RegExp(`^${other.pid} \\S+ \\d+$`));
    // The same pid, started at another time: the process that wrote the record is gone.
    await writeFile(file, JSON.stringify({ ...entry, process: entry.process.replace(/\d+$/, '1') }));
    expect((await finishPending(root, 'main')).committed).toEqual(['tend: half triage -> build']);
    expect(journal(root)).toEqual([]);
  });

  it('`tend approve` refuses the item meanwhile, and `tend run` does not start it', async () => {
    const gated =
      '---\nphases:\n  - { name: prd, artifact: PRD.md, approve: true }\n  - { name: build }\n---\nGated.\n';
    const root = await runRepo('write-artifact.mjs', {
      'pipelines/gated.md': gated,
      'backlog/prd/w/item.md': item('W', 'pipeline: gated\nstatus: waiting\nattempts: 1\n'),
      'backlog/prd/w/PRD.md': '# PRD\n',
    });
    const other = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 30000)'], { stdio: 'ignore' });
    children.push(other);
    // Another process is approving w: moved to build/, not yet written or committed.
    await interrupted(
      root,
      {
        id: 'w',
        from: 'backlog/prd/w',
        to: 'backlog/build/w',
        changes: { status: 'queued', attempts: 0 },
        summary: 'prd -> build (approved)',
        phase: 'prd',
      },
      'moved',
      other.pid,
    );
    const approve = await tend(root, ['approve', 'w']);
    expect(approve.exitCode).toBe(1);
    expect(approve.stderr).toMatch(/another tend process is moving w right now/);
    const run = await tend(root, ['run', '--once']);
    expect(run.exitCode).toBe(0);
    expect(await tendSubjects(root)).toEqual([]);
    expect(await git(root, 'status', '--porcelain', '--', 'backlog')).not.toBe('');
  });
});
