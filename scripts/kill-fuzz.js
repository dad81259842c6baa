#!/usr/bin/env node
// `npm run fuzz [-- ROUNDS]`: kill -9 `tend run` at random moments, ROUNDS times (default 80),
// over 8 items with --concurrency 3, and check after every kill that every item is whole, valid
// and in one place; then let a last run finish and check that everything tend did is committed,
// under its own messages (nothing "by hand"), with no half-done transition left in the journal.
// Random on purpose: the tests pin the windows this has found; this looks for new ones.
//
// `TEND_FUZZ=long npm run fuzz [-- ROUNDS]` (default 60 rounds) mixes in, around each kill, what
// happens on a real night: a live `tend run` (watching) or `--once`, a person moving item folders
// by hand (`mv` to another phase, `git mv` to done/), editing `priority:`, new inbox files (some
// written slowly, in two parts), and an agent that fails, hangs past the timeout, writes binary
// garbage as its artifact or floods its output. The same checks hold after each kill, plus: no
// duplicate ids, and a change is committed "by hand" only for an item a person touched.
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const tend = path.join(here, '..', 'bin', 'tend.js');
const long = process.env.TEND_FUZZ === 'long';
const agent = path.join(here, '..', 'test', 'fixtures', 'agents', long ? 'fuzz-chaos.mjs' : 'write-artifact.mjs');
const rounds = Number(process.argv[2] ?? (long ? 60 : 80));
const env = {
  ...process.env,
  GIT_AUTHOR_NAME: 'fuzz',
  GIT_AUTHOR_EMAIL: 'fuzz@tend.invalid',
  GIT_COMMITTER_NAME: 'fuzz',
  GIT_COMMITTER_EMAIL: 'fuzz@tend.invalid',
  GIT_CONFIG_GLOBAL: '/dev/null',
  NO_COLOR: '1',
};

const root = mkdtempSync(path.join(os.tmpdir(), 'tend-fuzz-'));
const sh = (cmd, ...args) =>
  execFileSync(cmd, args, { cwd: root, env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 64 << 20 });
sh('git', 'init', '--quiet');
sh('node', tend, 'init');
// Long mode: short timeouts so a hanging agent is stopped within the rounds, and retries enough
// that most items finish despite the chaos agent.
const timeouts = long ? 'timeout: 3s\nstall_timeout: 3s\nlog_max_bytes: 65536\n' : '';
writeFileSync(
  path.join(root, 'ORCHESTRATOR.md'),
  `---\nagent: fake\nretries: 5\nretry_backoff: 0s\n${timeouts}agents:\n  fake:\n    type: command\n` +
    `    command: [${JSON.stringify(process.execPath)}, ${JSON.stringify(agent)}]\n---\n`,
);
const ids = Array.from({ length: 8 }, (_, i) => `item-${i}`);
for (const [i, id] of ids.entries()) {
  const pipeline = i % 4 === 1 ? 'coding' : 'quick-fix';
  const text = `---\ntitle: Item ${i}\npipeline: ${pipeline}\n---\nBody ${i}.\n`;
  writeFileSync(path.join(root, 'backlog', `${id}.md`), text);
}
sh('git', 'add', '--all');
sh('git', 'commit', '--quiet', '-m', 'fuzz setup');

const board = () => JSON.parse(sh('node', tend, 'status', '--json'));
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
function fail(message) {
  console.error(`FAIL: ${message}\n(the repository is kept: ${root})`);
  process.exit(1);
}

/** Every item valid, each expected id exactly once, nothing else. */
function checkBoard(when, expected) {
  const b = board();
  if (b.invalid.length > 0) fail(`${when}: invalid entries ${JSON.stringify(b.invalid)}`);
  const seen = b.items.map((i) => i.id).sort();
  if (new Set(seen).size !== seen.length) fail(`${when}: duplicate ids in ${seen.join(' ')}`);
  const want = [...expected].sort().join(' ');
  if (seen.join(' ') !== want) fail(`${when}: items are ${seen.join(' ')}, expected ${want}`);
  return b;
}

/** What must hold once a last run has settled everything. */
function checkEnd(handTouched) {
  const b = board();
  const where = b.items.map((i) => `${i.id}:${i.location}`).join(' ');
  const byHand = sh('git', 'log', '--format=%s', '--grep=by hand').split('\n').filter(Boolean);
  const wrongHand = byHand.filter((s) => !handTouched.has(s.split(' ')[1]));
  const dirty = sh('git', 'status', '--porcelain', '--', 'backlog').trim();
  const journalDir = path.join(root, '.tend', 'journal');
  const journal = existsSync(journalDir) ? readdirSync(journalDir) : [];
  if (b.invalid.length > 0 || wrongHand.length > 0 || dirty || journal.length > 0) {
    fail(
      `at the end: invalid ${JSON.stringify(b.invalid)}, by hand but no person touched it [${wrongHand}], ` +
        `uncommitted [${dirty}], journal [${journal}]`,
    );
  }
  if (b.items.some((i) => i.location !== 'done' && i.location !== 'blocked')) fail(`at the end, not settled: ${where}`);
  return { b, where, byHand };
}

if (long) await longFuzz();
else await shortFuzz();

async function shortFuzz() {
  for (let round = 1; round <= rounds; round++) {
    const args = [tend, 'run', '--once', '--concurrency', '3'];
    const child = spawn(process.execPath, args, { cwd: root, env, stdio: 'ignore' });
    await sleep(Math.random() * 700);
    child.kill('SIGKILL');
    await new Promise((resolve) => child.on('exit', resolve));
    checkBoard(`after kill ${round}`, ids);
    process.stdout.write(`\rkill ${round}/${rounds}`);
  }
  process.stdout.write('\n');
  sh('node', tend, 'run', '--once', '--concurrency', '3');
  const { where } = checkEnd(new Set());
  console.log(`ok: ${rounds} kills; ${sh('git', 'rev-list', '--count', 'HEAD').trim()} commits; ${where}`);
  console.log(`(blocked items were cut off more often than their attempts allow; the repository: ${root})`);
}

async function longFuzz() {
  const expected = new Set(ids);
  const handTouched = new Set();
  const tally = { live: 0, once: 0, moves: 0, gitMoves: 0, edits: 0, inbox: 0, slowInbox: 0 };
  const pending = [];
  for (let round = 1; round <= rounds; round++) {
    const live = Math.random() < 0.6;
    tally[live ? 'live' : 'once']++;
    const args = live ? ['run', '--concurrency', '3'] : ['run', '--once', '--concurrency', '3'];
    const child = spawn(process.execPath, [tend, ...args], { cwd: root, env, stdio: 'ignore' });
    const lifetime = 300 + Math.random() * 2500;
    const started = Date.now();
    while (Date.now() - started < lifetime) {
      await sleep(Math.random() * lifetime * 0.5);
      pending.push(act(round, expected, handTouched, tally));
    }
    child.kill('SIGKILL');
    const ended = child.exitCode !== null || child.signalCode !== null;
    await new Promise((resolve) => (ended ? resolve() : child.on('exit', resolve)));
    // Sometimes a person acts while nothing runs, too.
    if (Math.random() < 0.3) pending.push(act(round, expected, handTouched, tally));
    await Promise.all(pending.splice(0));
    checkBoard(`after kill ${round} (of a ${live ? 'live run' : '--once run'})`, expected);
    process.stdout.write(`\rround ${round}/${rounds}`);
  }
  process.stdout.write('\n');
  // Settle: agents may still fail, so a few runs may be needed before nothing can move.
  for (let i = 0; i < 5 && board().items.some((x) => x.location !== 'done' && x.location !== 'blocked'); i++) {
    sh('node', tend, 'run', '--once', '--concurrency', '3');
  }
  const { b, byHand } = checkEnd(handTouched);
  const count = (loc) => b.items.filter((i) => i.location === loc).length;
  const commits = sh('git', 'rev-list', '--count', 'HEAD').trim();
  console.log(
    `ok: ${rounds} kills (${tally.live} live runs, ${tally.once} --once); hand moves ${tally.moves} (mv) ` +
      `+ ${tally.gitMoves} (git mv to done/), priority edits ${tally.edits}, ` +
      `inbox files ${tally.inbox} (${tally.slowInbox} written slowly)`,
  );
  console.log(
    `${b.items.length} items: ${count('done')} done, ${count('blocked')} blocked; ${commits} commits, ` +
      `${byHand.length} by hand (all for items a person touched)`,
  );
  console.log(`(the repository: ${root})`);
}

/** One thing a person does: a hand move, a priority edit, or an inbox file. */
async function act(round, expected, handTouched, tally) {
  const roll = Math.random();
  if (roll < 0.35) return writeInbox(round, expected, tally);
  let b;
  try {
    b = board();
  } catch {
    return undefined;
  }
  const inPhase = b.items.filter((i) => !['inbox', 'done', 'blocked'].includes(i.location));
  const it = inPhase[Math.floor(Math.random() * inPhase.length)];
  if (!it) return undefined;
  const from = path.join(root, 'backlog', it.location, it.id);
  if (!existsSync(path.join(from, 'item.md'))) return undefined;
  handTouched.add(it.id);
  if (roll < 0.6) return editPriority(path.join(from, 'item.md'), tally);
  if (roll < 0.8) return moveByHand(it, from, tally);
  return gitMoveToDone(it, tally);
}

async function writeInbox(round, expected, tally) {
  const id = `new-${round}-${tally.inbox}`;
  tally.inbox++;
  expected.add(id);
  const file = path.join(root, 'backlog', `${id}.md`);
  const priority = 1 + Math.floor(Math.random() * 5);
  const text = `---\ntitle: New ${id}\npipeline: quick-fix\npriority: ${priority}\n---\nWritten in round ${round}.\n`;
  if (Math.random() < 0.5) return writeFileSync(file, text);
  // Slowly, in two parts, as an editor or a network copy might.
  tally.slowInbox++;
  const cut = Math.floor(Math.random() * text.length);
  writeFileSync(file, text.slice(0, cut));
  await sleep(100 + Math.random() * 600);
  writeFileSync(file, text);
}

function editPriority(file, tally) {
  try {
    const text = readFileSync(file, 'utf8');
    const priority = `priority: ${1 + Math.floor(Math.random() * 5)}`;
    const line = /^priority: .*$/m;
    const next = line.test(text) ? text.replace(line, priority) : text.replace(/^---\n/, `---\n${priority}\n`);
    writeFileSync(file, next);
    tally.edits++;
  } catch {
    // The item moved away meanwhile: that is fine, a person would just miss it.
  }
}

function moveByHand(it, from, tally) {
  const coding = ['triage', 'research', 'prd', 'build', 'review'];
  const phases = it.pipeline === 'coding' ? coding : ['triage', 'build', 'review'];
  const to = phases.filter((p) => p !== it.location)[Math.floor(Math.random() * (phases.length - 1))];
  try {
    mkdirSync(path.join(root, 'backlog', to), { recursive: true });
    renameSync(from, path.join(root, 'backlog', to, it.id));
    tally.moves++;
  } catch {
    // Gone meanwhile.
  }
}

function gitMoveToDone(it, tally) {
  try {
    mkdirSync(path.join(root, 'backlog', 'done'), { recursive: true });
    sh('git', 'mv', `backlog/${it.location}/${it.id}`, `backlog/done/${it.id}`);
    tally.gitMoves++;
  } catch {
    // Not tracked yet, or gone meanwhile: git mv refuses, as it would for a person.
  }
}
