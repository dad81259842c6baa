// The one writer, in process, on real temporary repositories: what a person sees after each kind
// of change it carries out (files, `git log`, messages), and what it refuses.
import { existsSync } from 'node:fs';
import { mkdir, readdir, rename } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Item } from '../../src/core/backlog.js';
import { decideBlock, decideIntake, type Decision } from '../../src/core/decide.js';
import { serializeItem, updateItem } from '../../src/core/item.js';
import { commitMessage } from '../../src/core/transition.js';
import { record, sha256 } from '../../src/edges/journal.js';
import { openRepo, type Repo } from '../../src/edges/repo.js';
import { add } from '../../src/cli/commands/add.js';
import { approve, retry } from '../../src/cli/commands/item-actions.js';
import { openForAction } from '../../src/engine/actions.js';
import { init } from '../../src/engine/setup.js';
import { carryOut, PENDING, workingBranch, type ItemTarget } from '../../src/engine/writer.js';
import { git, read, scratchRepo } from '../helpers/repo.js';
import { isolateGitForInProcessCalls } from '../helpers/in-process.js';

isolateGitForInProcessCalls();

/** An empty repository whose own config gives the identity (the writer runs in this process). */
async function repoWithIdentity(): Promise<string> {
  const root = await scratchRepo();
  await git(root, 'config', 'user.name', 'Test User');
  await git(root, 'config', 'user.email', 'test@example.com');
  return root;
}

/** A repository set up by `tend init`, holding one inbox item added by `tend add`. */
async function withInboxItem(): Promise<{ root: string; repo: Repo }> {
  const root = await repoWithIdentity();
  await init(root);
  await add(await openRepo(root), { title: 'Fix login', pipeline: 'quick-fix', now: new Date('2026-11-25T21:00:00Z') });
  return { root, repo: await openRepo(root) };
}

const targetOf = (repo: Repo): ItemTarget => ({ root: repo.root, branch: 'main', settings: repo.config.settings });

/** The journal records left in .tend/journal (none once a transition is committed or refused). */
async function journalRecords(root: string): Promise<string[]> {
  const dir = path.join(root, '.tend/journal');
  return existsSync(dir) ? readdir(dir) : [];
}

async function lastCommit(root: string): Promise<string> {
  return git(root, 'log', '-1', '--format=%B');
}

describe('the writer: files tend creates', () => {
  it('`tend init` commits what it wrote, once; `tend add` commits the new inbox file', async () => {
    const root = await repoWithIdentity();
    const first = await init(root);
    expect(first.commit).toBeDefined();
    expect(await lastCommit(root)).toBe('tend: init\n\nTend-Outcome: init\n');
    expect((await init(root)).commit).toBeUndefined(); // nothing new to commit
    const added = await add(await openRepo(root), { title: 'Fix login' });
    expect(added).toMatchObject({ id: 'fix-login', file: 'backlog/fix-login.md', committed: true, leftover: false });
    expect(await lastCommit(root)).toBe(
      'tend: fix-login added\n\nTend-Item: fix-login\nTend-Phase: inbox\nTend-Outcome: added\n',
    );
    expect(await git(root, 'status', '--porcelain')).toBe('');
  });
});

describe('the writer: an item decision', () => {
  it('moves the item, rewrites item.md and commits both paths under the transition message', async () => {
    const { root, repo } = await withInboxItem();
    const inbox = repo.snapshot.items.find((i) => i.id === 'fix-login');
    if (!inbox) throw new Error('no inbox item');
    const decision = decideIntake(inbox, 'triage');
    const written = await carryOut(targetOf(repo), { item: inbox, decision });
    expect(written.committed).toBe(true);
    expect(written.item.file).toBe('backlog/triage/fix-login/item.md');
    expect(existsSync(path.join(root, 'backlog/fix-login.md'))).toBe(false);
    expect(await read(root, 'backlog/triage/fix-login/item.md')).toMatch(/^status: queued$/m);
    expect(await lastCommit(root)).toBe(
      'tend: fix-login inbox -> triage\n\nTend-Item: fix-login\nTend-Phase: inbox\nTend-Outcome: intake\n',
    );
    expect(await git(root, 'status', '--porcelain')).toBe('');
    expect(await journalRecords(root)).toEqual([]);
  });

  it('commits nothing while HEAD is on another branch; the move waits in the journal until it is back', async () => {
    const { root, repo } = await withInboxItem();
    await git(root, 'checkout', '--quiet', '-b', 'elsewhere');
    const inbox = repo.snapshot.items.find((i) => i.id === 'fix-login');
    if (!inbox) throw new Error('no inbox item');
    const tried = carryOut(targetOf(repo), { item: inbox, decision: decideBlock(inbox, 'why not') });
    await expect(tried).rejects.toThrow('the checkout is now on elsewhere, not main where tend commits');
    expect(await lastCommit(root)).toMatch(/^tend: fix-login added/);
    expect(await git(root, 'log', '-1', '--format=%s', 'elsewhere')).toBe('tend: fix-login added');
    expect(await journalRecords(root)).toHaveLength(1);
    await git(root, 'checkout', '--quiet', 'main');
    expect(await carryOut({ root, branch: 'main' }, PENDING)).toMatchObject({
      committed: ['tend: fix-login inbox -> blocked'],
    });
    expect(await read(root, 'backlog/blocked/fix-login/item.md')).toMatch(/^blocked_reason: why not$/m);
    expect(await journalRecords(root)).toEqual([]);
    expect(await git(root, 'status', '--porcelain')).toBe('');
  });

  it('names the branch check the same way for a run and a command', async () => {
    const { root } = await withInboxItem();
    await expect(workingBranch(root, 'release', 'run')).rejects.toThrow(
      'ORCHESTRATOR.md sets git.branch: release, but main is checked out',
    );
    await git(root, 'checkout', '--quiet', '--detach');
    await expect(workingBranch(root, undefined, 'run')).rejects.toThrow('HEAD is detached');
    await expect(workingBranch(root, undefined, 'command')).rejects.toThrow('the checkout is on a detached HEAD');
  });
});

describe('the writer: what a killed tend process left', () => {
  it('finishes a journaled transition whose process is gone, under its own message', async () => {
    const { root, repo } = await withInboxItem();
    const { file, after, message } = await killedMove(root, repo, (inbox) => decideIntake(inbox, 'triage'));
    const finished = await carryOut({ root, branch: 'main' }, PENDING);
    expect(finished).toEqual({ committed: ['tend: fix-login inbox -> triage'], busy: new Set() });
    expect(await read(root, file)).toBe(after);
    expect(await lastCommit(root)).toBe(message);
    expect(await git(root, 'status', '--porcelain')).toBe('');
    expect(await git(root, 'ls-files', '.tend')).toBe('');
    expect(existsSync(path.join(root, `.tend/journal/fix-login.${GONE}.json`))).toBe(false);
  });

  it('a command finishes it first, then acts on the item where it was left', async () => {
    const { root, repo } = await withInboxItem();
    await killedMove(root, repo, (inbox) => decideBlock(inbox, 'no owner'));
    const opened = await openForAction(root, 'fix-login');
    expect(opened.snapshot.items.find((i) => i.id === 'fix-login')?.location).toBe('blocked');
    expect(await retry(opened, 'fix-login')).toBe('fix-login: blocked -> triage (retry)');
    const subjects = (await git(root, 'log', '--format=%s')).split('\n').slice(0, 2);
    expect(subjects).toEqual(['tend: fix-login blocked -> triage (retry)', 'tend: fix-login inbox -> blocked']);
    await expect(approve(await openRepo(root), 'fix-login')).rejects.toThrow('fix-login is not waiting for approval');
  });
});

/** A pid no process has. */
const GONE = 2 ** 22 + 1;

/** What a tend killed after moving the inbox item as `decide` says, before its commit, leaves behind. */
async function killedMove(
  root: string,
  repo: Repo,
  decide: (inbox: Item) => Decision,
): Promise<{ file: string; after: string; message: string }> {
  const inbox = repo.snapshot.items.find((i) => i.id === 'fix-login');
  if (!inbox) throw new Error('no inbox item');
  const decision = decide(inbox);
  const after = serializeItem(updateItem(inbox.parsed, decision.changes));
  const dir = `backlog/${decision.to ?? ''}/fix-login`;
  const file = `${dir}/item.md`;
  const message = commitMessage(decision.transition);
  const before = sha256(serializeItem(inbox.parsed));
  const paths = [dir];
  await record(root, {
    pid: GONE,
    id: 'fix-login',
    file,
    moved: true,
    before,
    after,
    paths,
    sources: [inbox.file],
    message,
  });
  await mkdir(path.join(root, dir), { recursive: true });
  await rename(path.join(root, inbox.file), path.join(root, file));
  return { file, after, message };
}
