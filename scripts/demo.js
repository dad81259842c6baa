#!/usr/bin/env node
// The quick start: tend's own sample backlog, in a scratch copy (so the checkout stays clean),
// taken through the whole `coding` pipeline by the built-in dry-run agent, then the night's report.
import { execFileSync } from 'node:child_process';
import { cpSync, mkdtempSync, readdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const pkg = path.resolve(here, '..');
const tend = path.join(pkg, 'bin', 'tend.js');
const scratch = mkdtempSync(path.join(os.tmpdir(), 'tend-demo-'));

// A fresh machine may have no git identity; the demo commits as "tend demo" only if so.
const env = { ...process.env };
try {
  execFileSync('git', ['var', 'GIT_COMMITTER_IDENT'], { stdio: 'ignore' });
} catch {
  Object.assign(env, {
    GIT_AUTHOR_NAME: 'tend demo',
    GIT_AUTHOR_EMAIL: 'demo@tend.invalid',
    GIT_COMMITTER_NAME: 'tend demo',
    GIT_COMMITTER_EMAIL: 'demo@tend.invalid',
  });
}
const run = (cmd, args) => execFileSync(cmd, args, { cwd: scratch, env, stdio: 'inherit' });

for (const entry of ['ORCHESTRATOR.md', 'pipelines', 'prompts', 'backlog']) {
  cpSync(path.join(pkg, entry), path.join(scratch, entry), { recursive: true });
}
console.log(`demo repository: ${scratch}`);
console.log(
  `sample items: ${readdirSync(path.join(scratch, 'backlog'))
    .filter((f) => f.endsWith('.md'))
    .join(', ')}\n`,
);
run('git', ['init', '--quiet']);
run('node', [tend, 'init']);
run('git', ['add', '--all']);
run('git', ['commit', '--quiet', '-m', 'sample backlog']);
console.log('\n$ tend run --once --agent dry-run');
run('node', [tend, 'run', '--once', '--agent', 'dry-run']);
console.log('\n$ tend status');
run('node', [tend, 'status']);
console.log(`\nRead the night back: cd ${scratch} && git log --oneline | head -20`);
console.log('\n$ tend report');
run('node', [tend, 'report']);
