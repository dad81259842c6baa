// A running tend picks up edits to its configuration. A valid one replaces the current one; one
// with errors is reported once and ignored, so the run goes on with the last good one.
import { formatProblem } from '../core/problem.js';
import type { Repo } from '../edges/repo.js';
import type { Config } from '../core/config.js';
import type { Reporter } from './run-state.js';

/** How long configuration files must be unchanged before a running tend uses them. */
export const CONFIG_SETTLE_MS = 300;

export class ConfigReload {
  private lastErrors = '';

  /** `lastChangedAt`: when the configuration the run started with was last changed. */
  constructor(
    private readonly reporter: Reporter,
    private lastChangedAt: number,
  ) {}

  /**
   * The configuration to use, read with `repo`, whose files last changed at `changedAt`; none
   * while it is settling (`settling`): a file written a moment ago may be half-written (an editor
   * truncates, then writes), so it is neither used nor judged until it has been still for a
   * moment. None either when it has errors: the run keeps the last good one.
   */
  settle(repo: Repo, changedAt: number): { settling: boolean; config?: Config } {
    if (Date.now() - changedAt < CONFIG_SETTLE_MS) return { settling: true };
    const errors = repo.errors.map((p) => `  ${formatProblem(p)}`).join('\n');
    const good = repo.errors.length === 0;
    if (good) {
      if (changedAt !== this.lastChangedAt) this.reporter.info('configuration reloaded');
      this.lastChangedAt = changedAt;
    } else if (errors !== this.lastErrors)
      this.reporter.warn(`configuration has errors; keeping the last good one:\n${errors}`);
    this.lastErrors = errors;
    return { settling: false, config: good ? repo.config : undefined };
  }
}
