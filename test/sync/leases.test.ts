import { spawn } from 'node:child_process';
import { chmod, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { cleanEnv, git, read, scratchDir, tend, TEND_BIN, writeTree } from '../helpers/repo.js';
import { cloneOf, PAIR, pairItem, sharedRepo, transitions } from '../helpers/remote.js';
import { eventually, killAfterTest, startLiveRun } from '../helpers/processes.js';

describe('a claim taken over after its lease', () => {
  it(
    "the dead owner's late push loses: its work is taken out of its branch and kept under a ref",
    { timeout: 90_000 },
    async () => {
      const { remote } = await sharedRepo(
        { 'pipelines/pair.md': PAIR, 'backlog/late.md': pairItem('Late') },
        {
          script: 'wait-for-release.mjs',
          overrides: { timeout: '60s', concurrency: 1, git: '{ remote: origin, sync_every: 10m }' },
        },
      );
      const [a, b, laptop] = [await cloneOf(remote), await cloneOf(remote), await cloneOf(remote)];
      const release = path.join(await scratchDir(), 'release');
      // A's commits are dated two hours back: to B, A's claim is one whose lease ran out long ago,
      // while A's own run (its clock) is still within the phase's timeout, its agent stalled.
      const longAgo = new Date(Date.now() - 2 * 3600_000).toISOString();
      const env = { FAKE_RELEASE: release, FAKE_BY: 'A', GIT_AUTHOR_DATE: longAgo };
      const dead = startLiveRun(a, { args: ['--once', '--sync', 'origin'], env });
      await eventually(
        () => transitions(remote),
        (t) => t.includes('late|claimed|triage'),
        "A's claim on the remote",
      );

      const taking = await tend(b, ['run', '--once', '--sync', 'origin'], { env: { FAKE_BY: 'B' } });
      expect(taking.exitCode, taking.report).toBe(0);
      expect(taking.stdout).toMatch(/late triage requeued \(the lease of \S+ ran out\)/);
      await writeFile(release, '');
      expect(await dead.exited, dead.report()).toBe(0);

      const history = await transitions(remote);
      expect(history.filter((t) => t.startsWith('late|done'))).toEqual(['late|done|build', 'late|done|triage']);
      expect(history.filter((t) => t.startsWith('late|taken-over'))).toEqual(['late|taken-over|triage']);
      expect(await git(remote, 'show', 'main:backlog/done/late/triage.md')).toContain('by B');
      expect(await git(a, 'rev-parse', 'HEAD')).toBe(await git(remote, 'rev-parse', 'main'));
      expect(await git(a, 'status', '--porcelain')).toBe('');
      await git(laptop, 'pull', '--quiet', '--rebase');
      expect(await git(laptop, 'status', '--porcelain')).toBe('');
      expect(await readFile(path.join(laptop, 'backlog/done/late/triage.md'), 'utf8')).toContain('by B');

      const said = dead.output().match(/late: origin took it over [^\n]*/g) ?? [];
      expect(said, dead.report()).toHaveLength(1);
      // Its agent usually ends before its run hears of the takeover (it syncs every 10 minutes),
      // and its late commit is dropped; a run that syncs first stops the agent (the next test).
      if (said[0]?.includes('while its triage agent ran here')) return;
      expect(said[0]).toMatch(
        /from \S+ \(its lease ran out\), so 1 commit\(s\) made here under that claim .* kept under refs\/tend\/dropped\/late\/1/,
      );
      // A's triage, dropped from its branch, is still there to look at.
      expect(await git(a, 'log', '-1', '--format=%s', 'refs/tend/dropped/late/1')).toMatch(
        /^tend: late triage -> build/,
      );
      expect(await git(a, 'show', 'refs/tend/dropped/late/1:backlog/build/late/triage.md')).toContain('by A');
    },
  );
});

describe('a claim taken over while its agent still runs', () => {
  it("the dead owner's run hears of it at its next sync: its agent is stopped, its work set aside under a ref, nothing of it pushed", async () => {
    const { remote } = await sharedRepo(
      { 'pipelines/pair.md': PAIR, 'backlog/late.md': pairItem('Late') },
      {
        script: 'wait-for-release.mjs',
        overrides: { timeout: '60s', concurrency: 1, git: '{ remote: origin, sync_every: 1s }' },
      },
    );
    const [a, b] = [await cloneOf(remote), await cloneOf(remote)];
    const pids = await scratchDir();
    const longAgo = new Date(Date.now() - 2 * 3600_000).toISOString();
    // Never released: A's agent would wait until the phase's timeout.
    const env = { FAKE_RELEASE: path.join(pids, 'never'), FAKE_PID_DIR: pids, GIT_AUTHOR_DATE: longAgo };
    const dead = startLiveRun(a, { args: ['--once', '--sync', 'origin'], env });
    await eventually(
      () => transitions(remote),
      (t) => t.includes('late|claimed|triage'),
      "A's claim on the remote",
    );
    // What A's agent has written so far.
    await writeTree(a, { 'backlog/triage/late/notes.md': 'half of a triage by A\n' });

    const taking = await tend(b, ['run', '--once', '--sync', 'origin'], { env: { FAKE_BY: 'B' } });
    expect(taking.exitCode, taking.report).toBe(0);
    expect(await dead.exited, dead.report()).toBe(0);
    expect(dead.output()).toMatch(
      /late: origin took it over while its triage agent ran here .* nothing of it is committed; what it wrote is kept under refs\/tend\/dropped\/late\/1/,
    );
    expect(dead.output()).not.toMatch(/by hand/);
    const agent = Number(await readFile(path.join(pids, 'late.pid'), 'utf8'));
    expect(() => process.kill(agent, 0)).toThrow();

    const history = await transitions(remote);
    expect(history.filter((t) => t.startsWith('late|done'))).toEqual(['late|done|build', 'late|done|triage']);
    expect(await git(remote, 'show', 'main:backlog/done/late/triage.md')).toContain('by B');
    // Nothing of A's is left to push, and nothing is dropped: its run committed nothing of the phase.
    const synced = await tend(a, ['sync', 'origin']);
    expect(synced.exitCode, synced.report).toBe(0);
    expect(synced.stderr).toBe('');
    expect(await git(a, 'rev-parse', 'HEAD')).toBe(await git(remote, 'rev-parse', 'main'));
    expect(await git(a, 'status', '--porcelain')).toBe('');
    expect(await git(a, 'show', 'refs/tend/dropped/late/1:backlog/triage/late/notes.md')).toBe('half of a triage by A');
    expect(await git(a, 'log', '-1', '--format=%s', 'refs/tend/dropped/late/1')).toBe(
      'tend: late triage work set aside (origin took the claim over)',
    );
  }, 90_000);
});

describe('tend sync by hand after a takeover', () => {
  it('drops the late work of the claim taken over, says so on stderr and lists it in --json', async () => {
    const claimed = pairItem('Gone').replace(
      'pipeline: pair',
      'pipeline: pair\nstatus: running\nowner: gone-host:4242\nattempts: 1',
    );
    const { remote, first } = await sharedRepo({ 'pipelines/pair.md': PAIR }, { script: 'write-given-text.mjs' });
    await writeTree(first, { 'backlog/build/gone/item.md': claimed });
    await git(first, 'add', '--all');
    await git(first, 'commit', '--quiet', '--date=2 hours ago', '-m', 'tend: gone build started (attempt 1)');
    await git(first, 'push', '--quiet');
    // The dead owner's clone holds its phase's result, never pushed: what its run had committed.
    const late = await cloneOf(remote);
    await git(late, 'rm', '-r', '--quiet', 'backlog/build/gone');
    await writeTree(late, {
      'backlog/done/gone/item.md': pairItem('Gone').replace('pipeline: pair', 'pipeline: pair\nattempts: 1'),
      'backlog/done/gone/build.md': '# build\n\nthe late one\n',
    });
    await git(late, 'add', '--all');
    const trailers = 'Tend-Item: gone\nTend-Phase: build\nTend-Outcome: done';
    await git(late, 'commit', '--quiet', '-m', `tend: gone build -> done\n\n${trailers}`);

    const other = await cloneOf(remote);
    const env = { FAKE_TEXT_BUILD: '# build\n\nredone here\n' };
    const run = await tend(other, ['run', '--once', '--sync', 'origin'], { env });
    expect(run.exitCode, run.report).toBe(0);
    const synced = await tend(late, ['sync', 'origin', '--json']);
    expect(synced.exitCode, synced.report).toBe(0);
    expect(synced.stderr).toMatch(
      /^warning: gone: origin took it over from gone-host:4242 \(its lease ran out\), so 1 commit\(s\) made here/,
    );
    expect(JSON.parse(synced.stdout).dropped).toEqual([
      { id: 'gone', owner: 'gone-host:4242', commits: 1, ref: 'refs/tend/dropped/gone/1' },
    ]);
    expect(await read(late, 'backlog/done/gone/build.md')).toBe('# build\n\nredone here\n');
    expect(await git(late, 'show', 'refs/tend/dropped/gone/1:backlog/done/gone/build.md')).toContain('the late one');
    expect(await git(remote, 'rev-parse', 'main')).toBe(await git(late, 'rev-parse', 'HEAD'));
    const again = await tend(late, ['sync', 'origin']);
    expect(again.stderr).not.toMatch(/taken out/);
  }, 90_000);
});

/**
 * A pre-receive hook that stalls the first push of a claim from the process group named in
 * `dir`/stall-pgid (it writes `dir`/stalled first), so the test can kill that runner mid-push.
 */
async function stallClaimPushes(remote: string, dir: string): Promise<void> {
  const hook = path.join(remote, 'hooks', 'pre-receive');
  await writeFile(
    hook,
    `#!/bin/sh
read old new ref
group=$(awk '{print $5}' /proc/$$/stat)
[ -e '${dir}/stalled' ] && exit 0
[ "$group" = "$(cat '${dir}/stall-pgid' 2>/dev/null)" ] || exit 0
git log -1 --format=%B "$new" | grep -q '^Tend-Outcome: claimed$' || exit 0
echo "$new" > '${dir}/stalled'
sleep 60
`,
  );
  await chmod(hook, 0o755);
}

describe('kill -9 of a syncing runner', () => {
  it('killed while its claim is being pushed, then restarted: nothing lost, nothing run twice', async () => {
    const items = ['k1', 'k2'];
    const one = '---\nphases:\n  - { name: build }\n---\nOne phase in the checkout.\n';
    const { remote } = await sharedRepo(
      {
        'pipelines/one.md': one,
        ...Object.fromEntries(items.map((id) => [`backlog/${id}.md`, pairItem(id).replace('pair', 'one')])),
      },
      { script: 'count-and-sleep.mjs', overrides: { concurrency: 1 } },
    );
    const [a, b] = [await cloneOf(remote), await cloneOf(remote)];
    const dir = await scratchDir();
    await stallClaimPushes(remote, dir);
    const env = { FAKE_COUNT_FILE: path.join(dir, 'counts') };
    const args = ['run', '--once', '--sync', 'origin'];
    // Its own process group, as a shell would start it: the kill takes git push and the hook with it.
    const runner = spawn(process.execPath, [TEND_BIN, ...args], { cwd: a, env: cleanEnv(env), detached: true });
    killAfterTest(runner);
    const gone = new Promise((resolve) => runner.once('exit', resolve));
    await writeTree(dir, { 'stall-pgid': `${runner.pid}\n` });
    await eventually(() => readFile(path.join(dir, 'stalled'), 'utf8').catch(() => ''), Boolean, 'a stalled push');
    process.kill(-(runner.pid ?? 0), 'SIGKILL');
    await gone;

    // The other clone does the work meanwhile; then the killed runner is started again.
    const other = await tend(b, args, { env });
    expect(other.exitCode, other.report).toBe(0);
    const restarted = await tend(a, args, { env });
    expect(restarted.exitCode, restarted.report).toBe(0);
    for (const clone of [a, b]) {
      expect((await tend(clone, ['sync', 'origin'])).exitCode).toBe(0);
      const files = (await git(clone, 'ls-files', 'backlog')).split('\n').filter((f) => f.endsWith('item.md'));
      expect(files.sort()).toEqual(items.map((id) => `backlog/done/${id}/item.md`));
      expect(await git(clone, 'status', '--porcelain')).toBe('');
    }
    const ran = (await readFile(env.FAKE_COUNT_FILE, 'utf8')).split('\n').filter(Boolean).sort();
    expect(ran).toEqual(items.map((id) => `${id} build`));
    const done = (await transitions(remote)).filter((t) => t.includes('|done|'));
    expect(done).toEqual(items.map((id) => `${id}|done|build`));
    // The killed runner's claim never reached the remote: the restart takes it (and its requeue)
    // out instead of pushing them on top of the other clone's work.
    for (const id of items) {
      const last = await git(remote, 'log', '-1', `--grep=^Tend-Item: ${id}$`, '--format=%s', 'main');
      expect(last).toBe(`tend: ${id} build -> done`);
    }
    expect(restarted.stderr).toMatch(
      /k\d: origin moved it on before this clone's claim reached it, so 2 commit\(s\) .* refs\/tend\/dropped\/k\d\/1/,
    );
  }, 90_000);
});
