// What git says about a repository's set-up, for `tend doctor`: where its work tree is, who
// would be recorded as committing, and whether tend's runtime folder is kept out of commits.
import { authorEnv, committerIdentity, findRepoRoot, isIgnored } from './git.js';
import { STATE_DIR } from './state-dir.js';

/** The top of the work tree containing `cwd`, or undefined outside any repository. */
export function workTreeRoot(cwd: string): Promise<string | undefined> {
  return findRepoRoot(cwd);
}

/** "Name <email>" git would commit as (with ORCHESTRATOR.md's git.author if set), or undefined. */
export function commitIdentity(root: string, author: string | undefined): Promise<string | undefined> {
  return committerIdentity(root, authorEnv(author));
}

/** Whether git ignores `.tend/`, which holds local runtime state only. */
export function stateDirIgnored(root: string): Promise<boolean> {
  return isIgnored(root, `${STATE_DIR}/`);
}
