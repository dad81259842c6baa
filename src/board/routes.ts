// The board's routes: two pages, their script and style, the JSON API, the event stream, and
// the actions. Errors are JSON with a message a person can act on.
import type { Context, Hono } from 'hono';
import { streamSSE } from 'hono/streaming';
import { TendError } from '../core/problem.js';
import { addItem, actOnItem, Conflict, type ItemAction } from './actions.js';
import type { BoardCache } from './cache.js';
import { boardData } from './data.js';
import type { Events } from './events.js';
import { FileRefused, readArtifact } from './files.js';
import { findItem, itemPage, NotFound } from './item-page.js';
import { CSP, shell, staticFile } from './page.js';

interface Env {
  cwd: string;
  token: string;
  events: Events;
  cache: BoardCache;
}

const HEARTBEAT_MS = 15_000;

function failure(c: Context, err: unknown): Response {
  if (err instanceof Conflict) return c.json({ error: err.message, conflict: true }, 409);
  if (err instanceof FileRefused) return c.json({ error: err.message }, err.status);
  if (err instanceof NotFound) return c.json({ error: err.message }, 404);
  if (err instanceof TendError) return c.json({ error: err.message, fix: err.fix ?? null }, 400);
  if (err instanceof SyntaxError) return c.json({ error: `the request is not JSON: ${err.message}` }, 400);
  return c.json({ error: err instanceof Error ? err.message : String(err) }, 500);
}

async function attempt(c: Context, work: () => Promise<unknown>): Promise<Response> {
  try {
    const result = await work();
    return result instanceof Response ? result : c.json(result);
  } catch (err) {
    return failure(c, err);
  }
}

function page(c: Context, title: string, token: string): Response {
  c.header('Content-Security-Policy', CSP);
  c.header('Cache-Control', 'no-store');
  return c.html(shell(title, token));
}

function eventStream(c: Context, events: Events): Response {
  return streamSSE(c, async (stream) => {
    let wake: (() => void) | undefined;
    const pending: number[] = [];
    const stop = events.listen((change) => {
      pending.push(change);
      wake?.();
    });
    stream.onAbort(() => {
      pending.push(-1);
      wake?.();
    });
    await stream.writeSSE({ event: 'hello', data: '0' });
    for (;;) {
      if (pending.length === 0) {
        let timer: NodeJS.Timeout | undefined;
        await new Promise<void>((resolve) => {
          wake = resolve;
          timer = setTimeout(resolve, HEARTBEAT_MS);
        });
        // A heartbeat timer left running would keep a stopped board's process alive until it fires.
        clearTimeout(timer);
      }
      const change = pending.shift();
      if (change === -1) break;
      await stream.writeSSE(
        change === undefined ? { event: 'ping', data: '' } : { event: 'change', data: `${change}` },
      );
    }
    stop();
  });
}

function reads(app: Hono, env: Env): void {
  app.get('/', (c) => page(c, 'tend board', env.token));
  app.get('/item/:id', (c) => page(c, `${c.req.param('id')} · tend board`, env.token));
  app.get('/static/:name', async (c) => {
    const file = await staticFile(c.req.param('name'));
    if (!file) return c.json({ error: 'no such file' }, 404);
    return c.body(file.text, 200, { 'Content-Type': file.type, 'Cache-Control': 'no-cache' });
  });
  app.get('/api/board', (c) =>
    attempt(c, () => {
      const doneOffset = Math.max(0, Number(c.req.query('doneOffset')) || 0);
      return doneOffset === 0 ? env.cache.get() : boardData(env.cwd, { doneOffset });
    }),
  );
  app.get('/api/items/:id', (c) => attempt(c, () => itemPage(env.cwd, c.req.param('id'))));
  app.get('/api/items/:id/files/:name', (c) =>
    attempt(c, async () => {
      const { repo, item } = await findItem(env.cwd, c.req.param('id'));
      if (!item) throw new NotFound(`${c.req.param('id')} is invalid: see its page`);
      const { text } = await readArtifact(repo.root, item, c.req.param('name'));
      return c.body(text, 200, { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Security-Policy': CSP });
    }),
  );
  app.get('/api/events', (c) => eventStream(c, env.events));
}

function writes(app: Hono, env: Env): void {
  // What the board did itself is on the next board it serves, without waiting for the watcher.
  app.use('/api/items*', async (c, next) => {
    await next();
    if (c.req.method === 'POST') env.cache.forget();
  });
  app.post('/api/items', (c) =>
    attempt(c, async () => {
      const body = (await c.req.json()) as Record<string, unknown>;
      const labels = Array.isArray(body.labels) ? body.labels.map(String).filter(Boolean) : [];
      const message = await addItem(env.cwd, {
        title: String(body.title ?? ''),
        body: typeof body.body === 'string' ? body.body : undefined,
        priority: priorityOf(body.priority) ?? 3,
        labels,
        pipeline: typeof body.pipeline === 'string' && body.pipeline ? body.pipeline : undefined,
      });
      return c.json({ message }, 201);
    }),
  );
  app.post('/api/items/:id/actions', (c) =>
    attempt(c, async () => {
      const body = (await c.req.json()) as Record<string, unknown>;
      const message = await actOnItem(env.cwd, c.req.param('id'), String(body.version ?? ''), actionOf(body));
      return { message };
    }),
  );
}

function priorityOf(value: unknown): number | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 5) throw new TendError('the priority must be an integer from 1 to 5');
  return n;
}

function actionOf(body: Record<string, unknown>): ItemAction {
  switch (body.kind) {
    case 'approve':
    case 'retry':
      return { kind: body.kind };
    case 'reject':
      return { kind: 'reject', reason: String(body.reason ?? ''), block: body.block === true };
    case 'edit':
      return {
        kind: 'edit',
        priority: priorityOf(body.priority),
        body: typeof body.body === 'string' ? body.body : undefined,
      };
    default:
      throw new TendError(`unknown action ${JSON.stringify(body.kind)}`, 'one of approve, reject, retry, edit');
  }
}

export function routes(app: Hono, env: Env): void {
  reads(app, env);
  writes(app, env);
  app.notFound((c) => c.json({ error: 'no such page' }, 404));
}
