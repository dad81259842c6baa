#!/usr/bin/env node
// `npm run fuzz [-- ROUNDS]`: kill -9 `tend run` at random moments, ROUNDS times (default 80),
// over 8 items with --concurrency 3, and check after every kill that every item is whole, valid
// and in one place; then let a last run finish and check that everything tend did is committed,
// under its own messages (nothing "by hand"), with no half-done transition left in the journal.
// Random on purpose: the tests pin the windows this has found; this looks for new ones.
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const tend = path.join(here, '..', 'bin', 'tend.js');
const agent = path.join(here, '..', 'test', 'fixtures', 'agents', 'write-artifact.mjs');
const rounds = Number(process.argv[2] ?? 80);
const env = { ...process.env, GIT_AUTHOR_NAME: 'fuzz', GIT_AUTHOR_EMAIL: 'fuzz@tend.invalid', GIT_COMMITTER_NAME: 'fuzz', GIT_COMMITTER_EMAIL: 'fuzz@tend.invalid', GIT_CONFIG_GLOBAL: '/dev/null', NO_COLOR: '1' };

const root = mkdtempSync(path.join(os.tmpdir(), 'tend-fuzz-'));
const sh = (cmd, ...args) => execFileSync(cmd, args, { cwd: root, env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
sh('git', 'init', '--quiet');
sh('node', tend, 'init');
writeFileSync(
  path.join(root, 'ORCHESTRATOR.md'),
  `---\nagent: fake\nretries: 5\nretry_backoff: 0s\nagents:\n  fake:\n    type: command\n    command: [${JSON.stringify(process.execPath)}, ${JSON.stringify(agent)}]\n---\n`,
);
const ids = Array.from({ length: 8 }, (_, i) => `item-${i}`);
for (const [i, id] of ids.entries()) writeFileSync(path.join(root, 'backlog', `${id}.md`), `---\ntitle: Item ${i}\npipeline: ${i % 4 === 1 ? 'coding' : 'quick-fix'}\n---\nBody ${i}.\n`);
sh('git', 'add', '--all');
sh('git', 'commit', '--quiet', '-m', 'fuzz setup');

const board = () => JSON.parse(sh('node', tend, 'status', '--json'));
function fail(message) {
  console.error(`FAIL: ${message}\n(the repository is kept: ${root})`);
  process.exit(1);
}

for (let round = 1; round <= rounds; round++) {
  const child = spawn(process.execPath, [tend, 'run', '--once', '--concurrency', '3'], { cwd: root, env, stdio: 'ignore' });
  await new Promise((resolve) => setTimeout(resolve, Math.random() * 700));
  child.kill('SIGKILL');
  await new Promise((resolve) => child.on('exit', resolve));
  const b = board();
  const seen = b.items.map((i) => i.id).sort().join(' ');
  if (b.invalid.length > 0) fail(`after kill ${round}: invalid entries ${JSON.stringify(b.invalid)}`);
  if (seen !== ids.join(' ')) fail(`after kill ${round}: items are ${seen}`);
  process.stdout.write(`\rkill ${round}/${rounds}`);
}
process.stdout.write('\n');
sh('node', tend, 'run', '--once', '--concurrency', '3');
const b = board();
const where = b.items.map((i) => `${i.id}:${i.location}`).join(' ');
const byHand = sh('git', 'log', '--format=%s', '--grep=by hand').trim();
const dirty = sh('git', 'status', '--porcelain', '--', 'backlog').trim();
const journal = existsSync(path.join(root, '.tend', 'journal')) ? readdirSync(path.join(root, '.tend', 'journal')) : [];
if (b.invalid.length > 0 || byHand || dirty || journal.length > 0) fail(`at the end: invalid ${b.invalid.length}, by hand [${byHand}], uncommitted [${dirty}], journal [${journal}]`);
if (b.items.some((i) => i.location !== 'done' && i.location !== 'blocked')) fail(`at the end, not settled: ${where}`);
console.log(`ok: ${rounds} kills; ${sh('git', 'rev-list', '--count', 'HEAD').trim()} commits; ${where}`);
console.log(`(blocked items were cut off more often than their attempts allow; the repository: ${root})`);
