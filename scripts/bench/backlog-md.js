// Backlog.md, the closest peer (Markdown tasks in git), measured beside tend in the same run:
// `backlog task list --plain` over the same number of tasks. It is installed by the bench into
// a scratch folder under the temp directory, never as a dependency of tend.
import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { medianRun, sh, timed } from './tools.js';

const VERSION = '1.52.0';
const HOME = path.join(os.tmpdir(), `tend-bench-backlog.md-${VERSION}`);
const BIN = path.join(HOME, 'node_modules', '.bin', 'backlog');

/** The path of the `backlog` CLI, installing it on first use; undefined when that fails. */
export function backlogCli() {
  if (existsSync(BIN)) return BIN;
  try {
    mkdirSync(HOME, { recursive: true });
    writeFileSync(path.join(HOME, 'package.json'), '{"private":true}');
    sh(HOME, 'npm', 'install', '--no-audit', '--no-fund', '--loglevel=error', `backlog.md@${VERSION}`);
    return existsSync(BIN) ? BIN : undefined;
  } catch (err) {
    console.error(`bench: could not install backlog.md@${VERSION}: ${err.message.split('\n')[0]}`);
    return undefined;
  }
}

function task(i) {
  const status = i % 10 === 0 ? 'To Do' : 'Done';
  return (
    `---\nid: TASK-${i}\ntitle: Item ${i}\nstatus: ${status}\nassignee: []\ncreated_date: '2026-11-01 10:00'\n` +
    `labels: []\ndependencies: []\n---\n\n## Description\n\nSome text for item ${i}.\n`
  );
}

/** A Backlog.md project of `count` tasks (nine in ten done), committed; remote and branch checks off. */
export function backlogRepo(cli, count) {
  const root = mkdtempSync(path.join(os.tmpdir(), 'tend-bench-blmd-'));
  sh(root, 'git', 'init', '--quiet', '--initial-branch=main');
  sh(
    root,
    cli,
    'init',
    'bench',
    '--defaults',
    '--agent-instructions',
    'none',
    '--check-branches',
    'false',
    '--include-remote',
    'false',
  );
  sh(root, cli, 'config', 'set', 'remoteOperations', 'false');
  const tasks = path.join(root, 'backlog', 'tasks');
  mkdirSync(tasks, { recursive: true });
  for (let i = 1; i <= count; i++) writeFileSync(path.join(tasks, `task-${i} - Item ${i}.md`), task(i));
  sh(root, 'git', 'add', '--all');
  sh(root, 'git', 'commit', '--quiet', '-m', `${count} tasks`);
  return root;
}

export function backlogList(cli, root, times = 3) {
  return medianRun(times, () => timed(root, cli, ['task', 'list', '--plain']));
}
