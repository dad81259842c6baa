import { chmod, readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { git, scratchDir, tend, writeTree } from '../helpers/repo.js';
import { cloneOf, PAIR, pairItem, sharedRepo, transitions } from '../helpers/remote.js';
import { eventually, startLiveRun, waitFor } from '../helpers/processes.js';

describe('tend run --sync', () => {
  it('two clones racing on one item with a slow agent: each phase runs once, each transition is in the history once', async () => {
    const { remote } = await sharedRepo(
      { 'pipelines/pair.md': PAIR, 'backlog/race.md': pairItem('Race') },
      { script: 'count-and-sleep.mjs' },
    );
    const [a, b] = [await cloneOf(remote), await cloneOf(remote)];
    const counts = path.join(await scratchDir(), 'counts');
    const env = { FAKE_COUNT_FILE: counts, FAKE_DELAY_MS: '1500' };
    const runs = await Promise.all([a, b].map((dir) => tend(dir, ['run', '--once', '--sync', 'origin'], { env })));
    for (const run of runs) expect(run.exitCode, run.report).toBe(0);

    const ran = (await readFile(counts, 'utf8')).split('\n').filter(Boolean).sort();
    expect(ran).toEqual(['race build', 'race triage']);
    expect(await transitions(remote)).toEqual([
      'race|claimed|build',
      'race|claimed|triage',
      'race|done|build',
      'race|done|triage',
      'race|intake|inbox',
    ]);
    for (const dir of [a, b]) {
      await git(dir, 'pull', '--quiet', '--rebase');
      expect(await git(dir, 'ls-files', 'backlog/done/race')).toContain('backlog/done/race/item.md');
    }
  }, 120_000);
});

describe('leases', () => {
  it("another host's claim is taken over after its lease, visibly; a fresh claim is left alone", async () => {
    const running = (title: string) =>
      pairItem(title).replace('pipeline: pair', 'pipeline: pair\nstatus: running\nowner: gone-host:4242\nattempts: 1');
    const { remote, first } = await sharedRepo({ 'pipelines/pair.md': PAIR }, { script: 'count-and-sleep.mjs' });
    await writeTree(first, { 'backlog/triage/stale/item.md': running('Stale') });
    await git(first, 'add', '--all');
    await git(first, 'commit', '--quiet', '--date=2 hours ago', '-m', 'tend: stale triage started (attempt 1)');
    await writeTree(first, { 'backlog/triage/fresh/item.md': running('Fresh') });
    await git(first, 'add', '--all');
    await git(first, 'commit', '--quiet', '-m', 'tend: fresh triage started (attempt 1)');
    await git(first, 'push', '--quiet');

    const clone = await cloneOf(remote);
    const counts = path.join(await scratchDir(), 'counts');
    const run = await tend(clone, ['run', '--once', '--sync', 'origin'], { env: { FAKE_COUNT_FILE: counts } });
    expect(run.exitCode, run.report).toBe(0);
    expect(run.stdout).toMatch(/stale triage requeued \(the lease of gone-host:4242 ran out\)/);
    expect((await readFile(counts, 'utf8')).split('\n').filter(Boolean).sort()).toEqual([
      'stale build',
      'stale triage',
    ]);
    const history = await transitions(remote);
    expect(history.filter((t) => t.startsWith('stale|taken-over'))).toEqual(['stale|taken-over|triage']);
    expect(history.filter((t) => t.startsWith('fresh|'))).toEqual([]);
    expect(await git(clone, 'show', 'HEAD:backlog/triage/fresh/item.md')).toMatch(/owner: gone-host:4242/);
  });
});

describe('tend run --sync when other clones keep pushing first', () => {
  it('the next phase claimed before our own transition is pushed: the claim is taken back, nothing runs twice', async () => {
    const { remote, first } = await sharedRepo(
      { 'pipelines/pair.md': PAIR, 'backlog/once.md': pairItem('Once') },
      { script: 'count-and-sleep.mjs' },
    );
    // "Another clone" pushes first, 16 times, whenever our push would bring in the item's triage
    // result or its build claim: the loop's sync gives up with the result unpushed, and so does
    // the build claim's own sync.
    const counter = path.join(await scratchDir(), 'outpaced');
    const hook = path.join(remote, 'hooks', 'pre-receive');
    await writeFile(
      hook,
      `#!/bin/sh
read old new ref
subject=$(git log -1 --format=%s "$new")
case "$subject" in *"once triage -> build"*|*"once build started"*) ;; *) exit 0 ;; esac
n=$(cat '${counter}' 2>/dev/null || echo 0)
[ "$n" -ge 16 ] && exit 0
echo $((n + 1)) > '${counter}'
unset GIT_QUARANTINE_PATH GIT_OBJECT_DIRECTORY GIT_ALTERNATE_OBJECT_DIRECTORIES
c=$(git commit-tree -p main -m "another clone" "main^{tree}") && git update-ref refs/heads/main "$c"
`,
    );
    await chmod(hook, 0o755);
    const counts = path.join(await scratchDir(), 'counts');
    const run = await tend(first, ['run', '--once', '--sync', 'origin'], { env: { FAKE_COUNT_FILE: counts } });
    expect(run.exitCode, run.report).toBe(0);
    expect(await readFile(counter, 'utf8')).toBe('16\n');
    expect((await readFile(counts, 'utf8')).split('\n').filter(Boolean)).toEqual(['once triage', 'once build']);
    const history = (await transitions(remote)).filter((t) => t.startsWith('once|'));
    expect(history.filter((t) => t.startsWith('once|done'))).toEqual(['once|done|build', 'once|done|triage']);
    expect(history.filter((t) => t.startsWith('once|requeued'))).toEqual([]);
    expect(await git(remote, 'rev-parse', 'main')).toBe(await git(first, 'rev-parse', 'HEAD'));
  }, 120_000);
});

describe('tend run --sync without the remote', () => {
  it('a remote taken away: the run works locally and says so; once it is back, the next run pushes everything', async () => {
    const { remote, first } = await sharedRepo({ 'pipelines/pair.md': PAIR }, { script: 'count-and-sleep.mjs' });
    await rename(remote, `${remote}.away`);
    await writeTree(first, { 'backlog/offline.md': pairItem('Offline') });
    const offline = await tend(first, ['run', '--once', '--sync', 'origin']);
    expect(offline.exitCode, offline.report).toBe(0);
    expect(offline.stderr).toMatch(/the remote origin cannot be reached[\s\S]*keeps working and committing locally/);
    expect(await git(first, 'ls-files', 'backlog/done/offline')).toContain('item.md');
    expect((await tend(first, ['status'])).stdout).toMatch(/sync: \d+ commit\(s\) not on origin\/main since/);

    await rename(`${remote}.away`, remote);
    const back = await tend(first, ['run', '--once', '--sync', 'origin']);
    expect(back.exitCode, back.report).toBe(0);
    expect(await git(remote, 'rev-parse', 'main')).toBe(await git(first, 'rev-parse', 'HEAD'));
    expect((await transitions(remote)).filter((t) => t.startsWith('offline|done'))).toHaveLength(2);
  });

  it('work done offline on an item another clone did meanwhile: the claims and their work are dropped, kept under a ref', async () => {
    const { remote, first: offline } = await sharedRepo(
      { 'pipelines/pair.md': PAIR, 'backlog/both.md': pairItem('Both') },
      { script: 'write-given-text.mjs' },
    );
    const online = await cloneOf(remote);
    await rename(remote, `${remote}.away`);
    const alone = await tend(offline, ['run', '--once', '--sync', 'origin'], {
      env: { FAKE_TEXT_TRIAGE: 'offline\n' },
    });
    expect(alone.exitCode, alone.report).toBe(0);
    await rename(`${remote}.away`, remote);
    const other = await tend(online, ['run', '--once', '--sync', 'origin'], { env: { FAKE_TEXT_TRIAGE: 'online\n' } });
    expect(other.exitCode, other.report).toBe(0);

    // Its intake of the item is the remote's too; from its first claim on, the work is void.
    const synced = await tend(offline, ['sync', 'origin', '--json']);
    expect(synced.exitCode, synced.report).toBe(0);
    expect(JSON.parse(synced.stdout).dropped).toEqual([{ id: 'both', commits: 4, ref: 'refs/tend/dropped/both/1' }]);
    expect(synced.stderr).toMatch(/both: origin moved it on before this clone's claim reached it/);
    expect(await git(offline, 'rev-parse', 'HEAD')).toBe(await git(remote, 'rev-parse', 'main'));
    expect(await git(offline, 'show', 'HEAD:backlog/done/both/triage.md')).toBe('online');
    expect(await git(offline, 'show', 'refs/tend/dropped/both/1:backlog/done/both/triage.md')).toBe('offline');
    const history = await transitions(remote);
    expect(history.filter((t) => t.startsWith('both|claimed'))).toHaveLength(2);
    expect(await git(offline, 'status', '--porcelain')).toBe('');
  });

  it('a local change in the way of the remote: an item the remote moved is not run here, nor claimed again', async () => {
    const queued = pairItem('Taken').replace('pipeline: pair', 'pipeline: pair\nstatus: queued');
    const { remote, first } = await sharedRepo(
      { 'pipelines/pair.md': PAIR, 'backlog/triage/taken/item.md': queued, 'notes.txt': 'one\n' },
      { script: 'count-and-sleep.mjs' },
    );
    // Another clone claims the item (its run alive elsewhere) and changes notes.txt ...
    const other = await cloneOf(remote);
    const claimed = queued.replace('status: queued', 'status: running\nowner: elsewhere:1\nattempts: 1');
    await writeTree(other, { 'backlog/triage/taken/item.md': claimed, 'notes.txt': 'two\n' });
    await git(other, 'commit', '--quiet', '-am', 'claimed elsewhere');
    await git(other, 'push', '--quiet');
    // ... while this clone has a change of its own in notes.txt: the remote's commits cannot come in.
    await writeFile(path.join(first, 'notes.txt'), 'mine\n');
    const counts = path.join(await scratchDir(), 'counts');
    const run = await tend(first, ['run', '--once', '--sync', 'origin'], { env: { FAKE_COUNT_FILE: counts } });
    expect(run.exitCode, run.report).toBe(0);
    expect(run.stderr).toMatch(/notes\.txt/);
    expect(run.stderr).toMatch(/taken: another clone moved it first; it waits until this clone can sync again/);
    expect(run.stdout.match(/taken triage started/g)).toHaveLength(1);
    await expect(readFile(counts, 'utf8')).rejects.toThrow(/ENOENT/);
    expect(await readFile(path.join(first, 'notes.txt'), 'utf8')).toBe('mine\n');
    expect(await git(first, 'log', '--format=%s', 'HEAD')).not.toMatch(/taken triage started/);
  }, 60_000);

  it('a remote that refuses the push stops the run with the reason, instead of retrying', async () => {
    const { remote, first } = await sharedRepo({ 'pipelines/pair.md': PAIR }, { script: 'count-and-sleep.mjs' });
    const hook = path.join(remote, 'hooks', 'pre-receive');
    await writeFile(hook, '#!/bin/sh\necho "main is protected" >&2\nexit 1\n');
    await chmod(hook, 0o755);
    await writeTree(first, { 'backlog/refused.md': pairItem('Refused') });
    const run = await tend(first, ['run', '--once', '--sync', 'origin']);
    expect(run.exitCode).toBe(1);
    expect(run.stderr).toMatch(/the remote origin refused the push[\s\S]*main is protected/);
    expect(run.stderr.match(/refused the push/g)?.length).toBeLessThanOrEqual(2);
  });
});

describe('work branches travel', () => {
  it("a worktree phase's branch tend/<id> is pushed, so a pull request can be opened from any clone", async () => {
    const built = '---\nphases:\n  - { name: build, workspace: worktree }\n---\nOne build in a worktree.\n';
    const { remote, first } = await sharedRepo({ 'pipelines/built.md': built }, { script: 'commit-code.mjs' });
    await writeTree(first, { 'backlog/feature.md': pairItem('Feature').replace('pipeline: pair', 'pipeline: built') });
    const run = await tend(first, ['run', '--once', '--sync', 'origin']);
    expect(run.exitCode, run.report).toBe(0);
    expect(await git(remote, 'rev-parse', 'tend/feature')).toBe(await git(first, 'rev-parse', 'tend/feature'));
    const laptop = await cloneOf(remote);
    expect(await git(laptop, 'log', '--format=%s', '-1', 'origin/tend/feature')).not.toBe('');
  });
});

describe('a live run with a remote', () => {
  it('picks up an item pushed from another clone without a restart, and pushes what it did', async () => {
    const { remote, first: server } = await sharedRepo(
      { 'pipelines/pair.md': PAIR },
      { script: 'count-and-sleep.mjs', overrides: { git: '{ remote: origin, sync_every: 1s }' } },
    );
    const live = startLiveRun(server, { args: ['--sync'] });
    await waitFor(() => live.output().includes('watching'), 'the run to start watching');
    const laptop = await cloneOf(remote);
    await writeTree(laptop, { 'backlog/from-laptop.md': pairItem('From laptop') });
    await git(laptop, 'add', '--all');
    await git(laptop, 'commit', '--quiet', '-m', 'an item from the laptop');
    await git(laptop, 'push', '--quiet');
    await eventually(
      async () => (await transitions(remote)).filter((t) => t.startsWith('from-laptop|done')).length,
      (n) => n === 2,
      'both phases of the laptop item to be done and pushed',
      60_000,
    );
  }, 90_000);
});
