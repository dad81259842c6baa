import { spawn } from 'node:child_process';
import { chmod, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { cleanEnv, git, scratchDir, tend, TEND_BIN, writeTree } from '../helpers/repo.js';
import { cloneOf, sharedRepo } from '../helpers/remote.js';
import { eventually, killAfterTest, startLiveRun } from '../helpers/processes.js';

const PAIR = '---\nphases:\n  - { name: triage }\n  - { name: build }\n---\nTwo phases in the checkout.\n';
const ITEM = (title: string) =>
  `---\ntitle: ${title}\npipeline: pair\ncreated: 2026-12-01T00:00:00Z\n---\n${title}: some text.\n`;

/** Every (item, outcome, phase) in the remote's history, one line per transition commit. */
async function transitions(repo: string): Promise<string[]> {
  const format =
    '%(trailers:key=Tend-Item,valueonly,separator=)|%(trailers:key=Tend-Outcome,valueonly,separator=)|%(trailers:key=Tend-Phase,valueonly,separator=)';
  const out = await git(repo, 'log', 'main', `--format=${format}`, '--grep=^Tend-Item:');
  return out.split('\n').filter(Boolean).sort();
}

describe('a claim taken over after its lease', () => {
  it("the dead owner's late push loses: its work is taken out of its branch and kept under a ref", async () => {
    const { remote } = await sharedRepo(
      { 'pipelines/pair.md': PAIR, 'backlog/late.md': ITEM('Late') },
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

    const said = dead.output().match(/late: origin took it over from \S+ \(its lease ran out\)[^\n]*/g) ?? [];
    expect(said, dead.report()).toHaveLength(1);
    expect(said[0]).toMatch(/1 commit\(s\) made here under that claim .* kept under refs\/tend\/dropped\/late\/1/);
    const history = await transitions(remote);
    expect(history.filter((t) => t.startsWith('late|done'))).toEqual(['late|done|build', 'late|done|triage']);
    expect(history.filter((t) => t.startsWith('late|taken-over'))).toEqual(['late|taken-over|triage']);
    expect(await git(remote, 'show', 'main:backlog/done/late/triage.md')).toContain('by B');
    expect(await git(a, 'rev-parse', 'HEAD')).toBe(await git(remote, 'rev-parse', 'main'));
    // A's triage, dropped from its branch, is still there to look at.
    expect(await git(a, 'log', '-1', '--format=%s', 'refs/tend/dropped/late/1')).toMatch(/^tend: late triage -> build/);
    expect(await git(a, 'show', 'refs/tend/dropped/late/1:backlog/build/late/triage.md')).toContain('by A');

    await git(laptop, 'pull', '--quiet', '--rebase');
    expect(await git(laptop, 'status', '--porcelain')).toBe('');
    expect(await readFile(path.join(laptop, 'backlog/done/late/triage.md'), 'utf8')).toContain('by B');
  }, 60_000);
});
