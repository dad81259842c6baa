// Pull requests: `tend pr <id>` by hand and `merge: pr` in a run, with a stand-in `gh` first on
// PATH (it records its arguments and stdin and prints a URL), without any `gh`, with a `gh` that
// is not logged in, and without a remote. The remote is a local bare repository.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { git, PACKAGE_ROOT, read, scratchDir, tend, tendOk, writeTree } from '../helpers/repo.js';
import { copyRepo, headSubject, pathWithOnlyGit, sharedRepo } from './support.js';

const FAKE_GH_DIR = path.join(PACKAGE_ROOT, 'test', 'fixtures', 'gh');
const URL = 'https://github.com/example/project/pull/14';

interface GhCall {
  args: string[];
  input: string;
}

async function ghCalls(log: string): Promise<GhCall[]> {
  const text = await readFile(log, 'utf8').catch(() => '');
  return text
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as GhCall);
}

/** The stand-in gh first on PATH, logging to a file of its own. */
async function withGh(extra: Record<string, string> = {}): Promise<{ env: Record<string, string>; log: string }> {
  const log = path.join(await scratchDir(), 'gh.log');
  const env = { PATH: `${FAKE_GH_DIR}${path.delimiter}${process.env.PATH ?? ''}`, FAKE_GH_LOG: log, ...extra };
  return { env, log };
}

async function addRemote(root: string): Promise<string> {
  const bare = path.join(await scratchDir(), 'remote.git');
  await git(root, 'init', '--quiet', '--bare', bare);
  await git(root, 'remote', 'add', 'origin', bare);
  return bare;
}

describe('tend pr <id>', () => {
  // Fix login, taken to done/ by the dry-run agent, its branch tend/fix-login kept (merge: none).
  const template = sharedRepo(async (root) => {
    await tendOk(root, ['add', 'Fix login', '--body', 'Make the login work on Safari.']);
    await tendOk(root, ['run', '--once', '--agent', 'dry-run', '--quiet']);
  });

  it('pushes the branch, opens the pull request with the item’s report as its body, records the URL', async () => {
    const root = await copyRepo(template());
    const bare = await addRemote(root);
    const { env, log } = await withGh();
    const result = await tend(root, ['pr', 'fix-login'], { env });
    expect(result.exitCode, result.report).toBe(0);
    expect(result.stdout).toBe(`fix-login: pull request ${URL}`);
    const [call, ...more] = await ghCalls(log);
    expect(more).toEqual([]);
    expect(call?.args).toEqual([
      'pr',
      'create',
      '--head',
      'tend/fix-login',
      '--base',
      'main',
      '--title',
      'Fix login',
      '--body-file',
      '-',
    ]);
    expect(call?.input).toContain('Opened by tend for item `fix-login`.');
    expect(call?.input).toContain('**Asked:** Make the login work on Safari.');
    expect(call?.input).toContain('**Review:** approve ([review.md](backlog/done/fix-login/review.md))');
    expect(call?.input).toMatch(/- finished .* UTC, cost \$0\.00/);
    expect(call?.input).toContain('- change: 0 files changed, +0 -0 (`main...tend/fix-login`)');
    expect(await git(bare, 'rev-parse', 'refs/heads/tend/fix-login')).toBe(
      await git(root, 'rev-parse', 'refs/heads/tend/fix-login'),
    );
    expect(await read(root, 'backlog/done/fix-login/item.md')).toContain(`pr: ${URL}`);
    expect(await headSubject(root)).toBe(`tend: fix-login pull request ${URL}`);
    const trailers = await git(root, 'log', '-1', '--format=%(trailers:only,unfold)');
    expect(trailers).toContain(`Tend-PR: ${URL}`);
    expect(trailers).toContain('Tend-Outcome: pr');
    // Asked again: nothing opened twice, nothing committed.
    const again = await tend(root, ['pr', 'fix-login'], { env });
    expect(again.stdout).toBe(`fix-login already has a pull request: ${URL}`);
    expect(await ghCalls(log)).toHaveLength(1);
    // The report shows the pull request to review rather than the branch.
    const report = await tend(root, ['report', '--since', '1 year ago']);
    expect(report.stdout).toContain(`- review it: pull request ${URL}`);
  });

  it('with a GitHub remote, the body links the artifacts on GitHub', async () => {
    const root = await copyRepo(template());
    const bare = await addRemote(root);
    // gh is a stand-in; git pushes to the bare repository through a URL rewrite.
    await git(root, 'config', `url.${bare}.insteadOf`, 'https://github.com/example/project.git');
    await git(root, 'remote', 'set-url', 'origin', 'https://github.com/example/project.git');
    const { env, log } = await withGh();
    const result = await tend(root, ['pr', 'fix-login'], { env });
    expect(result.exitCode, result.report).toBe(0);
    const [call] = await ghCalls(log);
    expect(call?.input).toContain(
      '[review.md](https://github.com/example/project/blob/main/backlog/done/fix-login/review.md)',
    );
  });

  it('no gh on PATH: a clear message with the fix, exit 1, the item stays done with its branch', async () => {
    const root = await copyRepo(template());
    await addRemote(root);
    const before = await git(root, 'rev-parse', 'HEAD');
    const result = await tend(root, ['pr', 'fix-login'], { env: { PATH: await pathWithOnlyGit() } });
    expect(result.exitCode).toBe(1);
    expect(result.stdout).toBe('');
    expect(result.stderr).toMatch(/the GitHub CLI \(gh\) is not on PATH/);
    expect(result.stderr).toMatch(/gh auth login.*tend pr fix-login/);
    expect(await git(root, 'rev-parse', 'HEAD')).toBe(before);
    expect(await read(root, 'backlog/done/fix-login/item.md')).not.toContain('pr:');
    expect(await git(root, 'branch', '--list', 'tend/fix-login')).toContain('tend/fix-login');
  });

  it('gh not logged in: its words and the fix, exit 1, nothing recorded', async () => {
    const root = await copyRepo(template());
    await addRemote(root);
    const before = await git(root, 'rev-parse', 'HEAD');
    const { env, log } = await withGh({ FAKE_GH: 'logged-out' });
    const result = await tend(root, ['pr', 'fix-login'], { env });
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toMatch(/gh pr create failed: To get started with GitHub CLI/);
    expect(result.stderr).toMatch(/gh auth status/);
    expect(await ghCalls(log)).toHaveLength(1);
    expect(await git(root, 'rev-parse', 'HEAD')).toBe(before);
  });

  it('no remote: says so and how to add one; gh is not called', async () => {
    const root = await copyRepo(template());
    const { env, log } = await withGh();
    const result = await tend(root, ['pr', 'fix-login'], { env });
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toMatch(/no remote named origin/);
    expect(result.stderr).toMatch(/git remote add origin <url>/);
    expect(await ghCalls(log)).toEqual([]);
  });

  it('an item that is not done, or not there', async () => {
    const root = await copyRepo(template());
    await tendOk(root, ['add', 'Later']);
    const { env } = await withGh();
    expect((await tend(root, ['pr', 'later'], { env })).stderr).toMatch(/later is in inbox\/, not done/);
    expect((await tend(root, ['pr', 'nobody'], { env })).stderr).toMatch(/no item with id nobody/);
  });
});

describe('merge: pr', () => {
  const template = sharedRepo(async (root) => {
    const settings = await read(root, 'ORCHESTRATOR.md');
    await writeTree(root, { 'ORCHESTRATOR.md': settings.replace(/^merge: none$/m, 'merge: pr') });
    await git(root, 'commit', '--quiet', '-am', 'merge: pr');
    await tendOk(root, ['add', 'Fix login', '--body', 'Make the login work on Safari.']);
  });

  it('each finished item gets its pull request, recorded in the done transition', async () => {
    const root = await copyRepo(template());
    const bare = await addRemote(root);
    const { env, log } = await withGh();
    const result = await tend(root, ['run', '--once', '--agent', 'dry-run', '--quiet'], { env });
    expect(result.exitCode, result.report).toBe(0);
    const calls = await ghCalls(log);
    expect(calls.map((c) => c.args.slice(0, 4))).toEqual([['pr', 'create', '--head', 'tend/fix-login']]);
    expect(calls[0]?.input).toContain('**Review:** approve ([review.md](backlog/done/fix-login/review.md))');
    expect(await read(root, 'backlog/done/fix-login/item.md')).toContain(`pr: ${URL}`);
    const done = await git(root, 'log', '-1', '--format=%s%n%(trailers:only,unfold)', '--grep=-> done');
    expect(done).toContain('tend: fix-login review -> done');
    expect(done).toContain(`Tend-PR: ${URL}`);
    expect(await git(bare, 'branch', '--list', 'tend/fix-login')).toContain('tend/fix-login');
  });

  it('without gh: the item is done with its branch and a warning saying why; no retry', async () => {
    const root = await copyRepo(template());
    await addRemote(root);
    const result = await tend(root, ['run', '--once', '--agent', 'dry-run', '--quiet'], {
      env: { PATH: await pathWithOnlyGit() },
    });
    expect(result.exitCode, result.report).toBe(0);
    expect(result.stderr).toMatch(/no pull request was opened: the GitHub CLI \(gh\) is not on PATH/);
    const item = await read(root, 'backlog/done/fix-login/item.md');
    expect(item).toMatch(/warning: .*no pull request was opened/);
    expect(item).not.toMatch(/^pr:/m);
    expect(await git(root, 'branch', '--list', 'tend/fix-login')).toContain('tend/fix-login');
    const again = await tend(root, ['run', '--once', '--agent', 'dry-run', '--quiet'], {
      env: { PATH: await pathWithOnlyGit() },
    });
    expect(again.stderr).not.toMatch(/pull request/);
  });
});
