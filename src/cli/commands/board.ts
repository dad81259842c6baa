// `tend board`: serve the backlog as a live web page until interrupted.
import { spawn } from 'node:child_process';
import { TendError } from '../../core/problem.js';
import { isLoopback, startBoard } from '../../board/server.js';

export interface BoardCommandOptions {
  port: number;
  host: string;
  open: boolean;
  allowRemote: boolean;
}

/** The system's way to open a URL in the default browser. */
function openInBrowser(url: string): void {
  const command = process.platform === 'darwin' ? 'open' : process.platform === 'win32' ? 'explorer' : 'xdg-open';
  const child = spawn(command, [url], { stdio: 'ignore', detached: true });
  child.on('error', () => process.stderr.write(`tend: could not start ${command}; open ${url} yourself\n`));
  child.unref();
}

export async function boardCommand(cwd: string, options: BoardCommandOptions): Promise<void> {
  const remote = !isLoopback(options.host);
  if (remote && !options.allowRemote) {
    throw new TendError(
      `--host ${options.host} is not a loopback address: anyone who can reach it could read the backlog`,
      'add --allow-remote if you mean it, or leave --host out (127.0.0.1)',
    );
  }
  const warn = (message: string) => process.stderr.write(`tend: ${message}\n`);
  const board = await startBoard({ cwd, host: options.host, port: options.port, warn });
  if (remote) {
    warn(
      `warning: the board listens on ${options.host}: whoever reaches it can read the backlog and, with the page, ` +
        'change it; use it only on a network you trust',
    );
  }
  process.stdout.write(`tend board: ${board.url}\n`);
  if (options.open) openInBrowser(board.url);
  await new Promise<void>((resolve) => {
    const stop = () => resolve();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  await board.close();
}
