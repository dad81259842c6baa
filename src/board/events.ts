// Changes on disk for open pages: the watcher a run uses (src/edges/watcher.ts) wakes this loop
// at each change under backlog/, pipelines/, prompts/ or ORCHESTRATOR.md (a transition, a hand
// edit, a git pull), and every page listening is told to fetch the board again.
import type { RepoWatcher } from '../edges/watcher.js';

export class Events {
  private readonly listeners = new Set<(change: number) => void>();
  private changes = 0;
  private closed = false;

  constructor(watcher: RepoWatcher) {
    void this.loop(watcher);
  }

  private async loop(watcher: RepoWatcher): Promise<void> {
    while (!this.closed) {
      await watcher.next();
      if (this.closed) return;
      this.changes++;
      for (const listener of this.listeners) listener(this.changes);
    }
  }

  /** Calls `listener` at each change until the returned function is called. */
  listen(listener: (change: number) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  close(): void {
    this.closed = true;
    for (const listener of this.listeners) listener(-1);
    this.listeners.clear();
  }
}
