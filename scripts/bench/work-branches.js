// What fetching the remote's work branches costs a sync: `tend run --sync` fetches its branch and
// `refs/heads/tend/*` in one fetch. Measured against a bare remote holding `count` work branches,
// up to date (the usual case: nothing new), beside a fetch of the branch alone.
import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ENV, medianRun, removeRepo, sh, timed } from './tools.js';

export function workBranchFetch(count, times = 11) {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'tend-bench-fetch-'));
  const remote = path.join(dir, 'remote.git');
  const clone = path.join(dir, 'clone');
  sh(dir, 'git', 'init', '--quiet', '--bare', '--initial-branch=main', remote);
  sh(dir, 'git', 'init', '--quiet', '--initial-branch=main', clone);
  sh(clone, 'git', 'commit', '--quiet', '--allow-empty', '-m', 'base');
  // Branches made in one go: `git update-ref --stdin`, not a process each.
  const lines = Array.from({ length: count }, (_, i) => `create refs/heads/tend/item-${i} HEAD\n`).join('');
  if (count > 0) execFileSync('git', ['update-ref', '--stdin'], { cwd: clone, env: ENV, input: lines });
  sh(clone, 'git', 'push', '--quiet', remote, 'refs/heads/*:refs/heads/*');
  const track = 'refs/tend/remotes/bench';
  const branch = ['fetch', '--quiet', '--no-tags', remote, `+refs/heads/main:${track}/main`];
  const withWork = ['fetch', '--quiet', '--no-tags', '--prune', remote, `+refs/heads/main:${track}/main`];
  withWork.push(`+refs/heads/tend/*:${track}/tend/*`);
  sh(clone, 'git', ...withWork);
  const alone = medianRun(times, () => timed(clone, 'git', branch)).wallMs;
  const both = medianRun(times, () => timed(clone, 'git', withWork)).wallMs;
  removeRepo(dir);
  return { count, aloneMs: alone, withWorkBranchesMs: both };
}
