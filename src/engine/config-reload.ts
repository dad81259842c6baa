// A running tend picks up edits to its configuration. A valid one replaces the current one; one
// with errors is reported once and ignored, so the run goes on with the last good one.
import { formatProblem } from '../core/problem.js';
import type { Repo } from '../edges/repo.js';
import type { RunState } from './run-state.js';

/** How long configuration files must be unchanged before a running tend uses them. */
export const CONFIG_SETTLE_MS = 300;

export class ConfigReload {
  private lastErrors = '';

  /** `lastChangedAt`: when the configuration the run started with was last changed. */
  constructor(
    private readonly run: RunState,
    private lastChangedAt: number,
  ) {}

  /**
   * Use the configuration read with `repo`, whose files last changed at `changedAt`. True while
   * it is settling: a file written a moment ago may be half-written (an editor truncates, then
   * writes), so it is neither used nor judged until it has been still for a moment.
   */
  settle(repo: Repo, changedAt: number): boolean {
    if (Date.now() - changedAt < CONFIG_SETTLE_MS) return true;
    const errors = repo.errors.map((p) => `  ${formatProblem(p)}`).join('\n');
    if (repo.errors.length === 0) {
      if (changedAt !== this.lastChangedAt) this.run.reporter.info('configuration reloaded');
      this.run.config = repo.config;
      this.lastChangedAt = changedAt;
    } else if (errors !== this.lastErrors)
      this.run.reporter.warn(`configuration has errors; keeping the last good one:\n${errors}`);
    this.lastErrors = errors;
    return false;
  }
}
