// .tend/: local, git-ignored runtime state. Nothing that matters lives only here:
// delete it and the next run recovers from the backlog files and git history.
import path from 'node:path';

export const STATE_DIR = '.tend';

/** Where one item's agent logs, prompts and hook output go. */
export function itemLogDir(root: string, id: string): string {
  return path.join(root, STATE_DIR, 'logs', id);
}
