// Live mode: chokidar turns changes to backlog/, pipelines/, prompts/ and ORCHESTRATOR.md into a
// wake-up for the run loop, which then reads a fresh snapshot. Events carry no meaning here:
// the loop works out what changed, so a burst of a thousand events is one wake-up, and tend's
// own writes cost one harmless re-read (they are committed, so nothing is left to do).
import path from 'node:path';
import { watch, type ChokidarOptions, type FSWatcher } from 'chokidar';
import { PIPELINES_DIR, PROMPTS_DIR, SETTINGS_FILE } from '../core/config.js';
import { BACKLOG_DIR, DONE } from '../core/backlog.js';

export interface RepoWatcher {
  /**
   * Resolves at the next change (after writes settle), or at once if one is pending: true unless
   * every change since the last call was an inbox file written (see isInboxWrite).
   */
  next(): Promise<boolean>;
  close(): Promise<void>;
  readonly polling: boolean;
}

/** Errors after which chokidar cannot watch natively (too many files, no inotify). */
const NATIVE_WATCH_FAILED = new Set(['ENOSPC', 'EMFILE', 'ENFILE', 'ENOSYS', 'EPERM']);

/** Editors' swap, backup and lock files: never a change worth waking for. */
function isEditorLeftover(file: string): boolean {
  return /(^|[/\\])\.[^/\\]*\.sw[a-p]$|~$|\.tmp$|\.md\.\d+$/.test(file) || path.basename(file).startsWith('.#');
}

/**
 * What is inside backlog/done/: never watched. done/ only grows, and a watch per finished item
 * folder cost 180 MiB and seconds of start-up at 10,000 items, for nothing the run acts on: a
 * folder moved there by hand also leaves its old folder, which wakes the loop.
 */
function isInsideDone(root: string, file: string): boolean {
  const rel = path.relative(root, path.resolve(root, file)).split(path.sep);
  return rel.length > 2 && rel[0] === BACKLOG_DIR && rel[1] === DONE;
}

/**
 * A file written straight into backlog/ (an inbox file, new or rewritten): it wakes a run to take
 * it in, but is never a change by hand to look for with git (only a committed inbox file's
 * removal is one), so the run need not run that look in front of its intake.
 */
function isInboxWrite(event: string, file: string): boolean {
  const rel = file.split(path.sep);
  return (event === 'add' || event === 'change') && rel.length === 2 && rel[0] === BACKLOG_DIR && /\.md$/i.test(file);
}

function watchOptions(root: string, usePolling: boolean): ChokidarOptions {
  return {
    cwd: root,
    ignoreInitial: true,
    usePolling,
    interval: 500,
    // Wait until a file has stopped growing, so one save is one wake-up. Short, since it adds to
    // every intake's latency: a file a process still holds open is left for later by the run
    // itself (open-files.ts), which is what keeps a half-copied file out.
    awaitWriteFinish: { stabilityThreshold: 50, pollInterval: 20 },
    ignored: (file: string) => isEditorLeftover(file) || isInsideDone(root, file),
  };
}

export async function watchRepo(
  root: string,
  onWarn: (message: string) => void,
  options: { polling?: boolean; ignore?: (file: string) => boolean } = {},
): Promise<RepoWatcher> {
  let pending = false;
  let changedByHand = false;
  let wake: (() => void) | undefined;
  let polling = options.polling ?? false;
  let watcher: FSWatcher;

  const signal = (byHand = true) => {
    pending = true;
    changedByHand ||= byHand;
    wake?.();
    wake = undefined;
  };
  const take = () => {
    const byHand = changedByHand;
    pending = false;
    changedByHand = false;
    return byHand;
  };

  const start = async (usePolling: boolean): Promise<FSWatcher> => {
    const w = watch([BACKLOG_DIR, PIPELINES_DIR, PROMPTS_DIR, SETTINGS_FILE], watchOptions(root, usePolling));
    // `ignore`: a change the watcher's owner made itself and already knows of (a run's own transitions).
    w.on('all', (event, file) => {
      if (!options.ignore?.(file)) signal(!isInboxWrite(event, file));
    });
    w.on('error', (err) => {
      const code = (err as NodeJS.ErrnoException).code ?? '';
      if (!polling && NATIVE_WATCH_FAILED.has(code)) {
        polling = true;
        onWarn(`watching files failed (${code}); polling for changes every 0.5s instead`);
        void w.close().then(async () => {
          watcher = await start(true);
          signal();
        });
      } else {
        onWarn(`file watcher: ${(err as Error).message}`);
      }
    });
    await new Promise<void>((resolve) => w.once('ready', () => resolve()));
    return w;
  };

  watcher = await start(polling);
  return {
    get polling() {
      return polling;
    },
    next() {
      if (pending) return Promise.resolve(take());
      return new Promise<boolean>((resolve) => {
        wake = () => resolve(take());
      });
    },
    close: () => watcher.close(),
  };
}
