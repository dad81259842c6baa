// `tend board` as a user starts it: the real binary on a free loopback port, its URL read from
// what it prints, and its page's token read from the page, as a browser would get it.
import { request } from 'node:http';
import { execa, type ResultPromise } from 'execa';
import { afterEach } from 'vitest';
import { item } from '../helpers/engine.js';
import { cleanEnv, git, initializedRepo, TEND_BIN, tendOk, writeTree } from '../helpers/repo.js';

export interface RunningBoard {
  url: string;
  origin: string;
  token: string;
  output(): { stdout: string; stderr: string };
  stop(): Promise<void>;
}

const running: ResultPromise[] = [];
afterEach(async () => {
  for (const child of running.splice(0)) {
    child.kill('SIGTERM');
    await child.catch(() => undefined);
  }
});

/** Start `tend board --port 0` in `root`; resolves once it prints its URL. */
export async function startBoard(root: string, args: string[] = []): Promise<RunningBoard> {
  const child = execa(process.execPath, [TEND_BIN, 'board', '--port', '0', ...args], {
    cwd: root,
    env: cleanEnv(),
    extendEnv: false,
    reject: false,
  });
  running.push(child);
  let stdout = '';
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout?.on('data', (d: Buffer) => {
      stdout += d.toString();
      const m = /tend board: (http:\/\/\S+)\n/.exec(stdout);
      if (m?.[1]) resolve(m[1]);
    });
    void child.then(() => reject(new Error(`tend board ended: ${stdout}${stderr}`)));
  });
  const html = await (await fetch(url)).text();
  const token = /name="tend-token" content="([^"]+)"/.exec(html)?.[1] ?? '';
  return {
    url,
    origin: url.replace(/\/$/, ''),
    token,
    output: () => ({ stdout, stderr }),
    async stop() {
      child.kill('SIGTERM');
      await child;
    },
  };
}

export const GATED = `---
phases:
  - { name: triage }
  - { name: prd, artifact: PRD.md, approve: true }
  - { name: build }
---
A pipeline where a human reads the PRD before anything is built.
`;

export const PRD = '# The PRD\n\n| Need | Why |\n|------|-----|\n| speed | users wait |\n\n```js\nlet x = 1;\n```\n';

/**
 * A repository with an item in the inbox, one waiting for approval in prd/ with its PRD (a GFM
 * table), a blocked one, and one whose text tries to run script; all committed.
 */
export async function boardRepo(): Promise<string> {
  const root = await initializedRepo();
  await writeTree(root, {
    'pipelines/gated.md': GATED,
    'backlog/prd/spec-me/item.md': item('Spec me', 'pipeline: gated\nstatus: waiting\nattempts: 1\npriority: 2\n'),
    'backlog/prd/spec-me/PRD.md': PRD,
    'backlog/blocked/stuck/item.md': item('Stuck', 'pipeline: gated\nblocked_reason: the build failed twice\n'),
    'backlog/hostile.md':
      '---\ntitle: Hostile\n---\n<script>window.tendPwned = 1</script>\n\n<img src="x" onerror="window.tendPwned = 2">\n\n' +
      '[click](javascript:window.tendPwned=3)\n',
  });
  await git(root, 'add', '--all');
  await git(root, 'commit', '--quiet', '-m', 'test setup');
  await tendOk(root, ['add', 'Fix the login', '-p', '1', '-l', 'bug']);
  return root;
}

/** A POST as the board page makes it: its token and its Origin, unless the test says otherwise. */
export function post(board: RunningBoard, path: string, body: unknown, headers: Record<string, string> = {}) {
  return fetch(new URL(path, board.url), {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Origin: board.origin, 'X-Tend-Token': board.token, ...headers },
    body: JSON.stringify(body),
  });
}

/** A request with its path sent exactly as written (fetch would resolve `..`), and any Host. */
export function raw(
  board: RunningBoard,
  path: string,
  options: { method?: string; headers?: Record<string, string>; body?: string } = {},
): Promise<{ status: number; body: string }> {
  const { hostname, port } = new URL(board.url);
  return new Promise((resolve, reject) => {
    const req = request({ hostname, port, path, method: options.method ?? 'GET', headers: options.headers }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end(options.body);
  });
}
