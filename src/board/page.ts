// The board's HTML: one small shell for both pages; web/board.js draws them from the JSON API.
// No inline script or style, so the Content-Security-Policy can forbid every script but ours.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { PACKAGE_ROOT } from '../edges/assets.js';
import { escapeHtml } from './render.js';

export const CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
  "form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

export function shell(title: string, token: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="tend-token" content="${escapeHtml(token)}">
<title>${escapeHtml(title)}</title>
<link rel="stylesheet" href="/static/board.css">
<script type="module" src="/static/board.js"></script>
</head>
<body>
<header><a href="/" class="home">tend board</a> <span id="live" class="live">connecting…</span></header>
<main id="main"><p class="dim">Loading…</p></main>
<div id="message" role="status" hidden></div>
</body>
</html>
`;
}

const STATIC: Record<string, string> = {
  'board.js': 'text/javascript; charset=utf-8',
  'board.css': 'text/css; charset=utf-8',
};

/** The page's script and style, from web/ in the package; undefined for any other name. */
export async function staticFile(name: string): Promise<{ text: string; type: string } | undefined> {
  const type = STATIC[name];
  if (!type) return undefined;
  return { text: await readFile(path.join(PACKAGE_ROOT, 'web', name), 'utf8'), type };
}
