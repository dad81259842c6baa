// For tests that call src/edges/ functions in this process. Those run git with this process's
// environment, so it gets what the helpers give child processes (no user or system git config,
// no GIT_* variables from a hook that runs the tests), but no identity: each repository has its
// own in its config, so a test can also make one with none.
import { git, scratchRepo } from './repo.js';

const IDENTITY_VARIABLES = /^(GIT_|TEND_|FAKE_)|^EMAIL$/;

/** Call once at the top of a test file, before any src/ function runs git. */
export function isolateGitForInProcessCalls(): void {
  for (const key of Object.keys(process.env)) if (IDENTITY_VARIABLES.test(key)) delete process.env[key];
  process.env.GIT_CONFIG_GLOBAL = '/dev/null';
  process.env.GIT_CONFIG_NOSYSTEM = '1';
}

export const USER = 'Repo User <repo-user@example.com>';

/** A repository on main holding `files` in one commit, whose config names USER. */
export async function repoWithIdentity(files: Record<string, string | Buffer> = { 'README.md': 'hello\n' }) {
  const root = await scratchRepo(files);
  await git(root, 'config', 'user.name', 'Repo User');
  await git(root, 'config', 'user.email', 'repo-user@example.com');
  return root;
}

/** A repository in which git has no identity and will not guess one from the host. */
export async function repoWithoutIdentity(files: Record<string, string | Buffer> = { 'README.md': 'hello\n' }) {
  const root = await scratchRepo(files);
  await git(root, 'config', 'user.useConfigOnly', 'true');
  return root;
}
