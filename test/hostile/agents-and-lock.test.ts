// Hostile conditions around the run lock and around what agents and people change in the
// backlog while a run is live: tend keeps one run per checkout, keeps a person's changes, and is
// not steered by an agent that writes where it should not.
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { item, itemField, runRepo, tendSubjects } from '../helpers/engine.js';
import { alive, startLiveRun, waitFor } from '../helpers/processes.js';
import { git, scratchDir, tend, writeTree } from '../helpers/repo.js';

describe('the run lock', () => {
  it(".tend/ deleted while a run is live: a second run is still refused and the first run's agent goes on", async () => {
    const state = await scratchDir();
    const pidFile = path.join(state, 'agent.pid');
    const root = await runRepo('hang.mjs', { 'backlog/slow.md': item('Slow', 'pipeline: quick-fix\n') });
    const first = startLiveRun(root, { env: { FAKE_PID_FILE: pidFile } });
    await waitFor(() => existsSync(pidFile), 'the agent to start');
    const agentPid = Number(readFileSync(pidFile, 'utf8'));
    await rm(path.join(root, '.tend'), { recursive: true, force: true });

    const second = await tend(root, ['run', '--once']);
    expect(second.exitCode).toBe(1);
    expect(second.stderr).toMatch(
      new RegExp(`another tend run \\(pid ${first.child.pid}, started .*\\) is working in this checkout`),
    );
    expect(alive(agentPid)).toBe(true);
    expect((await tend(root, ['status'])).stdout).toMatch(new RegExp(`pid ${first.child.pid}`));
    expect(await git(root, 'log', '--format=%s', '--grep=by hand')).toBe('');
    first.child.kill('SIGTERM');
    expect(await first.exited).toBe(143);
  });

  it('a run killed with kill -9 releases the lock: the next run starts at once', async () => {
    const state = await scratchDir();
    const pidFile = path.join(state, 'agent.pid');
    const root = await runRepo('hang.mjs', { 'backlog/slow.md': item('Slow', 'pipeline: quick-fix\n') });
    const first = startLiveRun(root, { env: { FAKE_PID_FILE: pidFile } });
    await waitFor(() => existsSync(pidFile), 'the agent to start');
    await rm(path.join(root, '.tend'), { recursive: true, force: true });
    first.child.kill('SIGKILL');
    await first.exited;
    // The orphaned agent (its own process group) must not keep the lock either.
    expect(alive(Number(readFileSync(pidFile, 'utf8')))).toBe(true);
    const second = startLiveRun(root);
    await waitFor(() => second.output().includes('watching backlog/'), 'the second run to start');
    second.child.kill('SIGTERM');
    expect(await second.exited).toBe(143);
    process.kill(Number(readFileSync(pidFile, 'utf8')), 'SIGKILL');
  });
});

describe('what an agent leaves behind', () => {
  it('an agent that leaves its artifact as a symlink: a failed attempt with the reason, retried, then blocked; the symlink is never committed', async () => {
    const root = await runRepo('artifact-as-symlink.mjs', { 'backlog/sym.md': item('Sym', 'pipeline: quick-fix\n') });
    const result = await tend(root, ['run', '--once']);
    expect(result.exitCode).toBe(0);
    expect(result.stderr).not.toMatch(/invalid backlog entries/);
    expect(await tendSubjects(root)).toEqual([
      'tend: sym inbox -> triage',
      'tend: sym triage started (attempt 1)',
      'tend: sym triage failed (attempt 1 of 2), retry in 0ms',
      'tend: sym triage started (attempt 2)',
      'tend: sym triage -> blocked (failed 2 times)',
    ]);
    expect(await itemField(root, 'backlog/blocked/sym/item.md', 'blocked_reason')).toMatch(
      /triage\.md is a symlink; an artifact must be a file the agent wrote/,
    );
    expect(await git(root, 'log', '--all', '--format=', '--raw', '--', 'backlog')).not.toMatch(/120000/);
    expect(await git(root, 'status', '--porcelain', '--', 'backlog')).toBe('');
  });
});

describe('changes by hand that tend leaves alone', () => {
  it('an item in a folder that is no phase: listed as invalid and not touched, never committed as removed by hand', async () => {
    const root = await runRepo('write-artifact.mjs', { 'backlog/foo.md': item('Foo', 'pipeline: quick-fix\n') });
    expect((await tend(root, ['run', '--once'])).exitCode).toBe(0);
    const before = await git(root, 'rev-parse', 'HEAD');
    // A new item in a folder that is no phase, and a finished item moved into it.
    await writeTree(root, { 'backlog/weird/bar/item.md': item('Bar') });
    await rename(path.join(root, 'backlog/done/foo'), path.join(root, 'backlog/weird/foo'));
    const result = await tend(root, ['run', '--once']);
    expect(result.exitCode).toBe(0);
    expect(result.stderr).toMatch(/backlog\/weird: is not a phase folder of any pipeline/);
    expect(await git(root, 'rev-parse', 'HEAD')).toBe(before);
    const status = await git(root, 'status', '--porcelain', '--untracked-files=all', '--', 'backlog');
    expect(status).toContain('?? backlog/weird/bar/item.md');
    expect(status).toContain('?? backlog/weird/foo/item.md');
    expect(status).toContain(' D backlog/done/foo/item.md');
  });
});

/** Three phases in the checkout itself (where an agent can reach the backlog); `one` may need approval. */
function stepsPipeline(approveFirst: boolean): Record<string, string> {
  const prompts = Object.fromEntries(
    ['one', 'two', 'three'].map((p) => [`prompts/${p}.md`, `Do {{phase}} of {{id}}; write {{artifact_path}}.\n`]),
  );
  const first = approveFirst ? '{ name: one, artifact: one.md, approve: true }' : '{ name: one, artifact: one.md }';
  return {
    ...prompts,
    'pipelines/steps.md': `---\nphases:\n  - ${first}\n  - { name: two, artifact: two.md }\n  - { name: three, artifact: three.md }\n---\nSteps.\n`,
  };
}

describe('an agent that changes what is not its own', () => {
  it('an agent that runs git reset --hard HEAD~6: detected before the next commit, the run stops with an error saying how to recover, nothing committed on top', async () => {
    const root = await runRepo('overreach.mjs', {
      ...stepsPipeline(false),
      'backlog/bad.md': item('Bad', 'pipeline: steps\n'),
    });
    const result = await tend(root, ['run', '--once'], { env: { FAKE_OVERREACH: 'reset', FAKE_WHEN: 'three' } });
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toMatch(
      /main was rewritten under tend: it no longer contains tend's last commit [0-9a-f]{12} \(tend: bad three started \(attempt 1\)\)/,
    );
    expect(result.stderr).toMatch(/git reflog main/);
    // HEAD is where the reset left it: 6 commits back, nothing of tend's on top.
    expect(await git(root, 'log', '-1', '--format=%s')).toBe('test setup');
    expect(await tendSubjects(root)).toEqual([]);
  });
});

describe('an agent that changes its own item', () => {
  it('an agent that writes approved: true into its own item: the approval is cleared with a warning and the item waits for a person', async () => {
    const root = await runRepo('overreach.mjs', {
      ...stepsPipeline(true),
      'backlog/bad.md': item('Bad', 'pipeline: steps\n'),
    });
    const result = await tend(root, ['run', '--once'], { env: { FAKE_OVERREACH: 'approve' } });
    expect(result.exitCode).toBe(0);
    expect(result.stderr).toMatch(
      /warning: bad: approved -> true in backlog\/one\/bad\/item\.md while its one agent ran; put back/,
    );
    const file = 'backlog/one/bad/item.md';
    expect(await itemField(root, file, 'status')).toBe('waiting');
    expect(await itemField(root, file, 'approved')).toBeUndefined();
    expect(await itemField(root, file, 'warning')).toMatch(/approved -> true .* put back/);
    expect((await tendSubjects(root)).at(-1)).toBe('tend: bad one waiting for approval');
    expect(await git(root, 'log', '-1', '--format=%(trailers:key=Tend-Warning,valueonly)')).toMatch(/approved -> true/);
    expect(await git(root, 'status', '--porcelain', '--', 'backlog')).toBe('');
    // A person's approval, given while it waits, still counts.
    expect((await tend(root, ['approve', 'bad'])).exitCode).toBe(0);
    expect(await tendSubjects(root)).toContain('tend: bad one -> two (approved)');
  });

  it('an agent that writes pr, stale and stale_source into its own item: put back with a warning, the item goes on', async () => {
    const root = await runRepo('overreach.mjs', {
      ...stepsPipeline(false),
      'backlog/keys.md': item('Keys', 'pipeline: steps\n'),
    });
    const result = await tend(root, ['run', '--once'], { env: { FAKE_OVERREACH: 'engine-keys', FAKE_WHEN: 'one' } });
    expect(result.exitCode, result.report).toBe(0);
    expect(result.stderr).toMatch(
      /warning: keys: .*pr .*stale.* in backlog\/one\/keys\/item\.md while its one agent ran; put back/,
    );
    const file = 'backlog/done/keys/item.md';
    for (const key of ['pr', 'stale_source']) expect(await itemField(root, file, key)).toBeUndefined();
    expect(await itemField(root, file, 'stale')).toBeUndefined();
    expect(await git(root, 'log', '--format=%(trailers:key=Tend-Warning,valueonly)')).toMatch(/stale_source/);
    expect(await git(root, 'status', '--porcelain', '--', 'backlog')).toBe('');
  });

  it('an agent that moves its own folder to done/: moved back, the attempt fails with the reason, no phase is skipped', async () => {
    const root = await runRepo('overreach.mjs', {
      ...stepsPipeline(false),
      'backlog/bad.md': item('Bad', 'pipeline: steps\n'),
    });
    const result = await tend(root, ['run', '--once'], { env: { FAKE_OVERREACH: 'to-done', FAKE_WHEN: 'two' } });
    expect(result.exitCode).toBe(0);
    expect(result.stderr).toMatch(
      /warning: bad: the item folder was in backlog\/done\/ when its two agent was done \(an agent may not move its own item\); moved back to backlog\/two\/bad/,
    );
    expect(await tendSubjects(root)).toEqual([
      'tend: bad inbox -> one',
      'tend: bad one started (attempt 1)',
      'tend: bad one -> two',
      'tend: bad two started (attempt 1)',
      'tend: bad two failed (attempt 1 of 2), retry in 0ms',
      'tend: bad two started (attempt 2)',
      'tend: bad two -> blocked (failed 2 times)',
    ]);
    expect(existsSync(path.join(root, 'backlog/done/bad'))).toBe(false);
    expect(await itemField(root, 'backlog/blocked/bad/item.md', 'blocked_reason')).toMatch(
      /an agent may not move its own item/,
    );
    expect(await git(root, 'log', '--format=%s', '--grep=by hand')).toBe('');
    expect(await git(root, 'status', '--porcelain', '--', 'backlog')).toBe('');
  });

  it("an agent that deletes its own item: not restored (tend cannot tell it from a person's removal), committed as removed while its agent ran, never as by hand", async () => {
    const root = await runRepo('overreach.mjs', {
      ...stepsPipeline(false),
      'backlog/bad.md': item('Bad', 'pipeline: steps\n'),
    });
    const result = await tend(root, ['run', '--once'], { env: { FAKE_OVERREACH: 'delete-self', FAKE_WHEN: 'two' } });
    expect(result.exitCode).toBe(0);
    expect(result.stderr).toMatch(
      /warning: bad: backlog\/two\/bad left the backlog while its two agent ran \(a person, or the agent\)/,
    );
    expect((await tendSubjects(root)).slice(-2)).toEqual([
      'tend: bad two started (attempt 1)',
      'tend: bad removed while its two agent ran (by a person or by that agent)',
    ]);
    expect(await git(root, 'log', '--format=%s', '--grep=by hand')).toBe('');
    expect(await git(root, 'status', '--porcelain', '--', 'backlog')).toBe('');
  });
});

describe('an agent that changes other items', () => {
  it("an agent that edits another item's frontmatter: the keys tend keeps are put back with a warning, the rest is committed as an edit, nothing is folded into a transition", async () => {
    const root = await runRepo('overreach.mjs', {
      ...stepsPipeline(false),
      'backlog/bad.md': item('Bad', 'pipeline: steps\n'),
      'backlog/victim.md': item('Victim', 'pipeline: steps\npriority: 4\n'),
    });
    const result = await tend(root, ['run', '--once', '-c', '1'], {
      env: { FAKE_OVERREACH: 'edit-other', FAKE_ONLY: 'bad', FAKE_VICTIM: 'victim', FAKE_WHEN: 'one' },
    });
    expect(result.exitCode).toBe(0);
    expect(result.stderr).toMatch(
      /warning: victim: status queued -> failed by hand or by an agent: tend keeps these keys; put back/,
    );
    const subjects = await tendSubjects(root);
    expect(subjects).toContain('tend: victim edited by hand (priority 4 -> 1); status queued -> failed put back');
    expect(subjects.at(-1)).toMatch(/tend: (bad|victim) three -> done/);
    expect(subjects).toContain('tend: victim three -> done');
    // The claim of victim's first phase carries no edit of anyone's.
    const claim = await git(root, 'log', '--format=%H', '--grep=^tend: victim one started', '-1');
    const claimed = (await git(root, 'show', '--format=', '-U0', claim, '--', 'backlog/one/victim/item.md')).split(
      '\n',
    );
    expect(claimed.filter((l) => /^[-+][a-z]/.test(l)).join('\n')).not.toMatch(/priority/);
    expect(await git(root, 'status', '--porcelain', '--', 'backlog')).toBe('');
  });
});

describe('a person moving items while a live run works on them', () => {
  it("at -c 4, a folder renamed, one moved out of the repository and one git-mv'd into done/ while their agents run, just as another agent finishes: the moves stand, nothing is restored, the run goes on", async () => {
    const state = await scratchDir();
    const release = path.join(state, 'release');
    const outside = path.join(state, 'outside');
    const items = Object.fromEntries(
      ['a', 'b', 'c', 'd'].map((id) => [`backlog/${id}.md`, item(id.toUpperCase(), 'pipeline: steps\n')]),
    );
    const root = await runRepo('wait-for-release.mjs', { ...stepsPipeline(false), ...items });
    const run = startLiveRun(root, { args: ['-c', '4'], env: { FAKE_PID_DIR: state, FAKE_RELEASE: release } });
    await waitFor(
      () => ['a', 'b', 'c', 'd'].every((id) => existsSync(path.join(state, `${id}.pid`))),
      'four agents to start',
    );
    await rename(path.join(root, 'backlog/one/a'), path.join(root, 'backlog/one/a-renamed'));
    await rename(path.join(root, 'backlog/one/b'), outside);
    await mkdir(path.join(root, 'backlog/done'), { recursive: true });
    await git(root, 'mv', 'backlog/one/c', 'backlog/done/c');
    // d's agent finishes at once, before the run has seen the moves (its check must not take
    // them for its agent's); the others once the run has seen them.
    await writeFile(`${release}-d`, '');
    await waitFor(
      () =>
        /a was removed by hand/.test(run.output()) &&
        /b was removed by hand/.test(run.output()) &&
        /c was moved to done\//.test(run.output()),
      'the moves to be seen',
    );
    await writeFile(release, '');
    const finished = async () =>
      existsSync(path.join(root, 'backlog/done/d/item.md')) &&
      existsSync(path.join(root, 'backlog/done/a-renamed/item.md'));
    await waitFor(finished, 'd and a-renamed to be done', 60_000);
    await waitFor(
      async () => (await git(root, 'status', '--porcelain', '--', 'backlog')) === '',
      'everything committed',
    );
    expect(run.output()).not.toMatch(/ENOENT|file\(s\) of other items|moved back|left the backlog/);
    for (const gone of ['a', 'b']) expect(await git(root, 'ls-files', '--', `backlog/*/${gone}/*`)).toBe('');
    expect(await git(root, 'ls-files', '--', 'backlog/*/c/item.md')).toBe('backlog/done/c/item.md');
    expect(existsSync(path.join(outside, 'item.md'))).toBe(true);
    const subjects = await tendSubjects(root);
    expect(subjects).toEqual(
      expect.arrayContaining([
        'tend: a removed by hand from one',
        'tend: b removed by hand from one',
        'tend: c moved by hand: one -> done',
      ]),
    );
    run.child.kill('SIGTERM');
    expect(await run.exited).toBe(143);
  });
});
