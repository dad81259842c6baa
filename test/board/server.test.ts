// `tend board` over real HTTP on loopback: every route, what it refuses (bad ids, traversal,
// symlinks, a missing token, another Origin or Host), and an action on a stale view.
import { symlink } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { item, runRepo } from '../helpers/engine.js';
import { cleanEnv, git, read, tend, TEND_BIN, writeTree } from '../helpers/repo.js';
import { boardRepo, post, raw, startBoard } from './support.js';

interface Card {
  id: string;
  version: string;
  priority: number;
  waiting_for_you: boolean;
  labels: string[];
}
interface BoardJson {
  columns: { location: string; count: number; items: Card[] }[];
  invalid: { path: string; problems: { message: string }[] }[];
  done: { count: number };
}

const getJson = async <T>(url: string): Promise<T> => (await (await fetch(url)).json()) as T;
const column = (b: BoardJson, location: string) => b.columns.find((c) => c.location === location);
const cardOf = (b: BoardJson, id: string) => b.columns.flatMap((c) => c.items).find((i) => i.id === id);

describe('tend board: reading', () => {
  it('prints its loopback URL, serves the page with its token and a CSP, and the board as JSON', async () => {
    const root = await boardRepo();
    await writeTree(root, { 'backlog/broken.md': '---\ntitle: [unclosed\n---\n' });
    const board = await startBoard(root);
    expect(board.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
    expect(board.token.length).toBeGreaterThan(20);
    const page = await fetch(board.url);
    expect(page.headers.get('content-security-policy')).toContain("script-src 'self'");
    const b = await getJson<BoardJson>(new URL('/api/board', board.url).href);
    expect(b.columns.map((c) => c.location)).toEqual(expect.arrayContaining(['inbox', 'prd', 'done', 'blocked']));
    expect(
      column(b, 'inbox')
        ?.items.map((i) => i.id)
        .sort(),
    ).toEqual(['fix-the-login', 'hostile']);
    expect(column(b, 'prd')?.items.map((i) => i.id)).toEqual(['spec-me']);
    expect(cardOf(b, 'spec-me')?.waiting_for_you).toBe(true);
    expect(cardOf(b, 'fix-the-login')).toMatchObject({ priority: 1, labels: ['bug'] });
    expect(column(b, 'blocked')?.items.map((i) => i.id)).toEqual(['stuck']);
    expect(b.invalid.map((i) => i.path)).toEqual(['backlog/broken.md']);
    for (const file of ['board.js', 'board.css'])
      expect((await fetch(new URL(`/static/${file}`, board.url))).status).toBe(200);
    expect((await fetch(new URL('/static/other.js', board.url))).status).toBe(404);
    expect((await fetch(new URL('/item/spec-me', board.url))).status).toBe(200);
  });

  it('serves an item: text and artifacts as sanitized HTML, history with trailers; artifacts as text', async () => {
    const board = await startBoard(await boardRepo());
    const page = await getJson<{
      item: { html: string };
      artifacts: { name: string; html: string }[];
      history: { subject: string }[];
    }>(new URL('/api/items/spec-me', board.url).href);
    expect(page.artifacts.map((a) => a.name)).toEqual(['PRD.md']);
    expect(page.artifacts[0]?.html).toContain('<td>speed</td>');
    expect(page.artifacts[0]?.html).toContain('<code class="language-js">');
    const hostile = await getJson<{ item: { html: string } }>(new URL('/api/items/hostile', board.url).href);
    expect(hostile.item.html).not.toMatch(/<script|onerror|javascript:/i);
    const added = await getJson<{ history: { subject: string }[] }>(
      new URL('/api/items/fix-the-login', board.url).href,
    );
    expect(added.history.map((h) => h.subject)).toEqual(['tend: fix-the-login added']);
    const file = await fetch(new URL('/api/items/spec-me/files/PRD.md', board.url));
    expect(file.headers.get('content-type')).toContain('text/plain');
    expect(await file.text()).toContain('| speed | users wait |');
  });

  it('refuses bad ids, unknown items and files, `..` and %2e%2e traversal, and a symlinked artifact', async () => {
    const root = await boardRepo();
    await symlink(path.join(root, 'ORCHESTRATOR.md'), path.join(root, 'backlog/blocked/stuck/leak.md'));
    const board = await startBoard(root);
    const cases: [string, number][] = [
      ['/api/items/NOT_AN_ID', 400],
      ['/api/items/no-such-item', 404],
      ['/api/items/spec-me/files/nothing.md', 404],
      ['/api/items/spec-me/files/..%2f..%2f..%2fORCHESTRATOR.md', 400],
      ['/api/items/spec-me/files/%2e%2e%2f%2e%2e%2fitem.md', 400],
      // A whole %2e%2e segment is resolved by URL parsing, as `..` is: never to a file.
      ['/api/items/spec-me/files/%2e%2e', 404],
      ['/api/items/spec-me/files/.git', 400],
      ['/api/items/%2e%2e/files/ORCHESTRATOR.md', 404],
      ['/api/items/a%2f..%2f..%2fx/files/ORCHESTRATOR.md', 400],
      ['/api/items/spec-me/files/../../../../ORCHESTRATOR.md', 404],
      ['/api/items/stuck/files/leak.md', 404],
    ];
    for (const [url, status] of cases) {
      const res = await raw(board, url);
      expect({ url, status: res.status }).toEqual({ url, status });
      expect(res.body).not.toContain('agent:');
    }
    // The symlink makes the item invalid, as `tend status` says; its target is never served.
    const b = await getJson<BoardJson>(new URL('/api/board', board.url).href);
    expect(b.invalid.find((i) => i.path.includes('stuck'))?.problems[0]?.message).toMatch(/symlink/);
  });

  it('answers no Host but its own (a rebinding DNS name reads nothing)', async () => {
    const board = await startBoard(await boardRepo());
    const res = await raw(board, '/api/board', { headers: { Host: 'evil.example:80' } });
    expect(res.status).toBe(421);
    expect(res.body).not.toContain('spec-me');
  });

  it('a port in use: exit 1 with a fix, and nothing left running', async () => {
    const root = await boardRepo();
    const first = await startBoard(root);
    const taken = await tend(root, ['board', '--port', new URL(first.url).port]);
    expect(taken.exitCode).toBe(1);
    expect(taken.stderr).toMatch(/cannot listen on 127\.0\.0\.1:\d+: EADDRINUSE/);
    expect(taken.stderr).toMatch(/--port \(0: any free port\)/);
  });

  it('refuses a non-loopback --host unless --allow-remote is given', async () => {
    const root = await boardRepo();
    const refused = await tend(root, ['board', '--host', '0.0.0.0', '--port', '0']);
    expect(refused.exitCode).toBe(1);
    expect(refused.stderr).toMatch(/not a loopback address/);
    expect(refused.stderr).toMatch(/--allow-remote/);
    const board = await startBoard(root, ['--host', '0.0.0.0', '--allow-remote']);
    await expect.poll(() => board.output().stderr).toMatch(/warning: the board listens on 0\.0\.0\.0/);
  });
});

describe('tend board: actions', () => {
  const board = async () => {
    const root = await boardRepo();
    const b = await startBoard(root);
    const data = async () => getJson<BoardJson>(new URL('/api/board', b.url).href);
    return { root, b, data };
  };
  const subjects = async (root: string) => (await git(root, 'log', '--format=%s')).split('\n');

  it('adds an item, changes a priority, edits the text, approves, rejects and retries: one commit each', async () => {
    const { root, b, data } = await board();
    const added = await post(b, '/api/items', {
      title: 'From the board',
      body: 'Some *text*.',
      priority: 2,
      labels: ['ui'],
    });
    expect(added.status).toBe(201);
    expect((await subjects(root))[0]).toBe('tend: from-the-board added');
    expect(await read(root, 'backlog/from-the-board.md')).toMatch(/priority: 2[\s\S]*Some \*text\*\./);

    const login = cardOf(await data(), 'fix-the-login');
    const prio = await post(b, '/api/items/fix-the-login/actions', {
      kind: 'edit',
      priority: 4,
      version: login?.version,
    });
    expect(await prio.json()).toEqual({ message: 'fix-the-login: edited on the board (priority: 1 -> 4)' });
    expect((await subjects(root))[0]).toBe('tend: fix-the-login edited on the board (priority: 1 -> 4)');

    const again = cardOf(await data(), 'fix-the-login');
    const text = await post(b, '/api/items/fix-the-login/actions', {
      kind: 'edit',
      body: 'New text.\n',
      version: again?.version,
    });
    expect(text.status).toBe(200);
    expect(await read(root, 'backlog/fix-the-login.md')).toMatch(/---\nNew text\.\n$/);

    const waiting = cardOf(await data(), 'spec-me');
    const approve = await post(b, '/api/items/spec-me/actions', { kind: 'approve', version: waiting?.version });
    expect(await approve.json()).toEqual({ message: 'spec-me: prd -> build (approved)' });
    expect((await subjects(root))[0]).toBe('tend: spec-me prd -> build (approved)');

    const stuck = cardOf(await data(), 'stuck');
    const retry = await post(b, '/api/items/stuck/actions', { kind: 'retry', version: stuck?.version });
    expect(retry.status).toBe(200);
    expect(await git(root, 'status', '--porcelain')).toBe('');
  });

  it('a rejection needs a reason and goes to the item as feedback', async () => {
    const { root, b, data } = await board();
    const version = cardOf(await data(), 'spec-me')?.version;
    const empty = await post(b, '/api/items/spec-me/actions', { kind: 'reject', reason: ' ', version });
    expect(empty.status).toBe(400);
    const reject = await post(b, '/api/items/spec-me/actions', {
      kind: 'reject',
      reason: 'say who the users are',
      version,
    });
    expect(reject.status).toBe(200);
    expect(await read(root, 'backlog/prd/spec-me/item.md')).toMatch(/feedback: say who the users are/);
  });

  it('an action on a stale view is a 409 conflict and changes nothing', async () => {
    const { root, b, data } = await board();
    const seen = cardOf(await data(), 'spec-me')?.version;
    // Meanwhile, someone edits the item by hand and commits it.
    const file = 'backlog/prd/spec-me/item.md';
    await writeTree(root, { [file]: (await read(root, file)).replace('priority: 2', 'priority: 5') });
    await git(root, 'commit', '--quiet', '-am', 'hand edit');
    const before = await git(root, 'rev-parse', 'HEAD');
    const res = await post(b, '/api/items/spec-me/actions', { kind: 'edit', priority: 1, version: seen });
    expect(res.status).toBe(409);
    expect(((await res.json()) as { error: string }).error).toMatch(
      /spec-me changed since this page showed it.*priority 5/,
    );
    const approve = await post(b, '/api/items/spec-me/actions', { kind: 'approve', version: seen });
    expect(approve.status).toBe(409);
    expect(await git(root, 'rev-parse', 'HEAD')).toBe(before);
    expect(await read(root, file)).toMatch(/priority: 5/);
  });

  it('refuses a change without the token, with a wrong token, from another Origin, or without one', async () => {
    const { root, b, data } = await board();
    const before = await git(root, 'rev-parse', 'HEAD');
    const version = cardOf(await data(), 'spec-me')?.version;
    const approve = { kind: 'approve', version };
    const refused = [
      await raw(b, '/api/items/spec-me/actions', {
        method: 'POST',
        headers: { Origin: b.origin },
        body: JSON.stringify(approve),
      }),
      await post(b, '/api/items/spec-me/actions', approve, { 'X-Tend-Token': 'guessed' }),
      await post(b, '/api/items/spec-me/actions', approve, { Origin: 'http://evil.example' }),
      await raw(b, '/api/items', { method: 'POST', headers: { 'X-Tend-Token': b.token }, body: '{"title":"x"}' }),
    ];
    expect(refused.map((r) => r.status)).toEqual([403, 403, 403, 403]);
    expect(await git(root, 'rev-parse', 'HEAD')).toBe(before);
  });

  it('refuses bad requests with a message: unknown action, bad priority, bad id, not JSON, empty title', async () => {
    const { b, data } = await board();
    const version = cardOf(await data(), 'fix-the-login')?.version;
    const bad = [
      await post(b, '/api/items/fix-the-login/actions', { kind: 'explode', version }),
      await post(b, '/api/items/fix-the-login/actions', { kind: 'edit', priority: 9, version }),
      await post(b, '/api/items/Bad..Id/actions', { kind: 'approve', version }),
      await post(b, '/api/items', { title: '   ' }),
      await post(b, '/api/items/fix-the-login/actions', { kind: 'approve', version }),
    ];
    expect(bad.map((r) => r.status)).toEqual([400, 400, 400, 400, 400]);
    const messages = await Promise.all(bad.map(async (r) => ((await r.json()) as { error: string }).error));
    expect(messages[0]).toMatch(/unknown action "explode"/);
    expect(messages[1]).toMatch(/priority must be an integer from 1 to 5/);
    expect(messages[3]).toMatch(/the title is empty/);
    expect(messages[4]).toMatch(/not waiting for approval/);
    const notJson = await raw(b, '/api/items', {
      method: 'POST',
      headers: { Origin: b.origin, 'X-Tend-Token': b.token, 'Content-Type': 'application/json' },
      body: '{nope',
    });
    expect(notJson.status).toBe(400);
  });

  it('tells an open event stream about a change on disk', async () => {
    const { root, b } = await board();
    const controller = new AbortController();
    const res = await fetch(new URL('/api/events', b.url), { signal: controller.signal });
    const reader = res.body!.getReader();
    let text = '';
    const until = async (pattern: RegExp) => {
      while (!pattern.test(text)) text += new TextDecoder().decode((await reader.read()).value);
    };
    await until(/event: hello/);
    await writeTree(root, { 'backlog/by-hand.md': '# Written by hand\n' });
    await until(/event: change/);
    controller.abort();
  });
});

describe('tend board beside a run', () => {
  it("shows a running item's agent, attempt and the last lines of its output log", async () => {
    const root = await runRepo('hang.mjs', { 'backlog/slow.md': item('Slow', 'pipeline: quick-fix\n') });
    const run = execa(process.execPath, [TEND_BIN, 'run'], {
      cwd: root,
      env: cleanEnv(),
      extendEnv: false,
      reject: false,
    });
    try {
      const board = await startBoard(root);
      type Running = { agent: string; attempt: string; lines: string[] } | null;
      const running = async () => {
        const b = await getJson<{ columns: { items: { id: string; running: Running }[] }[] }>(
          new URL('/api/board', board.url).href,
        );
        return b.columns.flatMap((c) => c.items).find((i) => i.id === 'slow')?.running ?? null;
      };
      await expect.poll(running, { timeout: 20_000, interval: 300 }).toMatchObject({
        agent: 'fake',
        attempt: 'triage.1',
        lines: expect.arrayContaining([expect.stringContaining('thinking...')]),
      });
    } finally {
      run.kill('SIGTERM');
      await run;
    }
  });
});

describe('tend board: done/ paged', () => {
  it('shows 20 finished items at a time, latest first, and the rest on the next page', async () => {
    const root = await boardRepo();
    const files: Record<string, string> = {};
    for (let i = 0; i < 25; i++) files[`backlog/done/old-${String(i).padStart(2, '0')}/item.md`] = item(`Old ${i}`);
    await writeTree(root, files);
    await git(root, 'add', '--all');
    await git(root, 'commit', '--quiet', '-m', 'finished items');
    await writeTree(root, { 'backlog/done/newest/item.md': item('Newest') });
    await git(root, 'add', '--all');
    await git(root, 'commit', '--quiet', '-m', 'one more');
    const board = await startBoard(root);
    type Page = { columns: { location: string; count: number; items: { id: string }[] }[]; done: { count: number } };
    const page = async (offset: number) =>
      (await getJson<Page>(new URL(`/api/board?doneOffset=${offset}`, board.url).href)).columns.find(
        (c) => c.location === 'done',
      );
    const first = await page(0);
    const second = await page(20);
    expect(first?.count).toBe(26);
    expect(first?.items.length).toBe(20);
    expect(first?.items[0]?.id).toBe('newest');
    expect(second?.items.length).toBe(6);
    const ids = [...(first?.items ?? []), ...(second?.items ?? [])].map((i) => i.id);
    expect(new Set(ids).size).toBe(26);
  });
});
