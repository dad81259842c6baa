// `tend board`'s web server (hono on node:http). Reads are open to the machine the server
// listens for; anything that changes the repository needs the per-run token of the page and
// an Origin of the board itself. Every request's Host must be the board's own, so a page of
// another site that rebinds its name to this address reads nothing either.
import { randomBytes } from 'node:crypto';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import { Hono, type Context } from 'hono';
import { TendError } from '../core/problem.js';
import { watchRepo } from '../edges/watcher.js';
import { repoRoot } from '../edges/repo.js';
import { routes } from './routes.js';
import { Events } from './events.js';
import { BoardCache } from './cache.js';

export interface BoardServer {
  url: string;
  token: string;
  close(): Promise<void>;
}

export interface BoardOptions {
  cwd: string;
  host: string;
  port: number;
  warn: (message: string) => void;
}

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '::1', '[::1]']);

export function isLoopback(host: string): boolean {
  return LOOPBACK.has(host) || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

/** host:port as a URL's authority; an IPv6 address goes in brackets. */
function authority(host: string, port: number): string {
  return host.includes(':') && !host.startsWith('[') ? `[${host}]:${port}` : `${host}:${port}`;
}

const WILDCARDS = new Set(['0.0.0.0', '::', '[::]']);

/**
 * The Host headers (and Origins, with http://) this server answers to; 'any' when it listens on
 * every address (--allow-remote only), where a mutating request's Origin must match its Host.
 */
function ownHosts(host: string, port: number): Set<string> | 'any' {
  if (WILDCARDS.has(host)) return 'any';
  const names = isLoopback(host) ? [host, '127.0.0.1', 'localhost', '::1'] : [host];
  return new Set(names.map((h) => authority(h, port)));
}

function guard(hosts: () => Set<string> | 'any', token: string) {
  return async (c: Context, next: () => Promise<void>) => {
    const host = c.req.header('host') ?? '';
    const known = hosts();
    const own = known === 'any' ? new Set([host]) : known;
    if (!own.has(host)) return c.text('unknown Host: open the URL tend board printed', 421);
    if (c.req.method !== 'GET' && c.req.method !== 'HEAD') {
      const origin = c.req.header('origin') ?? '';
      if (!origin.startsWith('http://') || !own.has(origin.slice('http://'.length)))
        return c.json({ error: 'refused: this request did not come from the board page (Origin)' }, 403);
      if (c.req.header('x-tend-token') !== token)
        return c.json({ error: 'refused: missing or wrong board token; reload the page' }, 403);
    }
    c.header('X-Content-Type-Options', 'nosniff');
    c.header('Referrer-Policy', 'no-referrer');
    await next();
  };
}

function listen(app: Hono, host: string, port: number): Promise<Server> {
  return new Promise((resolve, reject) => {
    // node:http's server: no createServer option is given to serve().
    const server = serve({ fetch: app.fetch, port, hostname: host }, () => resolve(server)) as Server;
    server.once('error', (err: NodeJS.ErrnoException) => {
      const fix = err.code === 'EADDRINUSE' ? 'choose another port with --port (0: any free port)' : undefined;
      reject(new TendError(`cannot listen on ${authority(host, port)}: ${err.code ?? err.message}`, fix));
    });
  });
}

/** Start the board for the repository at `options.cwd`; resolves once it listens. */
export async function startBoard(options: BoardOptions): Promise<BoardServer> {
  const root = await repoRoot(options.cwd);
  const token = randomBytes(24).toString('base64url');
  const watcher = await watchRepo(root, options.warn);
  const events = new Events(watcher);
  let hosts: Set<string> | 'any' = new Set<string>();
  const app = new Hono();
  app.use(
    '*',
    guard(() => hosts, token),
  );
  const cache = new BoardCache(root, events);
  routes(app, { cwd: root, token, events, cache });
  await cache.warm();
  const server = await listen(app, options.host, options.port).catch(async (err: unknown) => {
    // Nothing may keep a board that cannot listen alive: the watcher goes with it.
    events.close();
    await watcher.close();
    throw err;
  });
  const { port } = server.address() as AddressInfo;
  hosts = ownHosts(options.host, port);
  const url = `http://${authority(WILDCARDS.has(options.host) ? 'localhost' : options.host, port)}/`;
  return {
    url,
    token,
    async close() {
      events.close();
      await watcher.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
