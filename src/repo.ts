// Opening the repository a command works on: its root, its config and its backlog.
import { loadConfig, phaseNames, type LoadedConfig } from './config/load.js';
import { readBacklog, type Snapshot } from './backlog/store.js';
import { checkAgainstConfig } from './backlog/validate.js';
import { findRepoRoot } from './git.js';
import { TendError } from './problem.js';

export interface Repo extends LoadedConfig {
  root: string;
  snapshot: Snapshot;
}

export async function repoRoot(cwd: string): Promise<string> {
  const root = await findRepoRoot(cwd);
  if (!root) throw new TendError(`${cwd} is not inside a git repository`, 'run `tend init` to set one up');
  return root;
}

export async function openRepo(cwd: string): Promise<Repo> {
  const root = await repoRoot(cwd);
  const loaded = await loadConfig(root);
  const snapshot = checkAgainstConfig(await readBacklog(root, phaseNames(loaded.config)), loaded.config);
  return { root, snapshot, ...loaded };
}
