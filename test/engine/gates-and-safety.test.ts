// Gates, empty artifacts, log caps, and item text that tries to reach a shell: with the real
// binary and fake agents.
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { FIXTURES, item, itemField, runRepo, tendSubjects } from '../helpers/engine.js';
import { scratchDir, tend, writeTree } from '../helpers/repo.js';

const gated = (gate: string) =>
  `---\nphases:\n  - { name: build, gate: ${JSON.stringify(gate)} }\n---\nOne gated phase.\n`;

describe('gates', () => {
  it('a passing gate lets the phase count; a failing one fails the attempt and blocks with its output', async () => {
    const root = await runRepo('write-artifact.mjs', {
      'pipelines/pass.md': gated('test -s backlog/build/ok/build.md'),
      'pipelines/fail.md': gated('echo the tests are red >&2; exit 4'),
      'backlog/ok.md': item('Ok', 'pipeline: pass\n'),
      'backlog/red.md': item('Red', 'pipeline: fail\n'),
    });
    const result = await tend(root, ['run', '--once']);
    expect(result.exitCode).toBe(0);
    expect(await tendSubjects(root)).toContain('tend: ok build -> done');
    const reason = await itemField(root, 'backlog/blocked/red/item.md', 'blocked_reason');
    expect(reason).toMatch(
      /build failed 2 times; last: the gate `echo the tests are red >&2; exit 4` failed \(exit 4\)/,
    );
    expect(reason).toContain('the tests are red');
    expect(await readFile(path.join(root, '.tend/logs/red/build.2.gate.log'), 'utf8')).toContain('the tests are red');
  });
});

describe('artifacts and logs', () => {
  it('an artifact with only whitespace does not count', async () => {
    const agent = path.join(await scratchDir(), 'blank.mjs');
    await writeTree(path.dirname(agent), {
      'blank.mjs': "import { writeFileSync } from 'node:fs';\nwriteFileSync(process.env.TEND_ARTIFACT, '  \\n\\n');\n",
    });
    const root = await runRepo(
      'write-artifact.mjs',
      { 'backlog/blank.md': item('Blank', 'pipeline: quick-fix\n') },
      {
        retries: 0,
        agents: `{ fake: { type: command, command: [${JSON.stringify(process.execPath)}, ${JSON.stringify(agent)}] } }`,
      },
    );
    expect((await tend(root, ['run', '--once'])).exitCode).toBe(0);
    expect(await itemField(root, 'backlog/blocked/blank/item.md', 'blocked_reason')).toMatch(
      /did not write backlog\/triage\/blank\/triage\.md \(or left it empty\)/,
    );
  });

  it('cuts an agent log at log_max_bytes and says so', async () => {
    const agent = path.join(await scratchDir(), 'chatty.mjs');
    await writeTree(path.dirname(agent), {
      'chatty.mjs':
        "import { writeFileSync } from 'node:fs';\nprocess.stdout.write('x'.repeat(50_000));\nwriteFileSync(process.env.TEND_ARTIFACT, '# done\\n');\n",
    });
    const root = await runRepo(
      'write-artifact.mjs',
      { 'backlog/chatty.md': item('Chatty', 'pipeline: quick-fix\n') },
      {
        log_max_bytes: 2048,
        agents: `{ fake: { type: command, command: [${JSON.stringify(process.execPath)}, ${JSON.stringify(agent)}] } }`,
      },
    );
    expect((await tend(root, ['run', '--once'])).exitCode).toBe(0);
    const log = await readFile(path.join(root, '.tend/logs/chatty/triage.1.log'), 'utf8');
    expect(log).toContain('[tend: log cut at 2048 bytes (log_max_bytes)]');
    expect(log.length).toBeLessThan(3000);
  });
});

describe('item text never reaches a shell', () => {
  it('an item whose title and text are shell commands reaches the agent as literal text, in one argument', async () => {
    const dir = await scratchDir();
    const pwned = path.join(dir, 'pwned');
    const recorder = path.join(FIXTURES, 'record-argv.mjs');
    const evil = `$(touch ${pwned}); \`touch ${pwned}\`; touch ${pwned} # 'quoted' "double" \\ * ?`;
    const root = await runRepo(
      'record-argv.mjs',
      { 'backlog/evil.md': `---\ntitle: ${JSON.stringify(evil)}\npipeline: quick-fix\n---\n${evil}\n` },
      {
        agents: `{ fake: { type: command, input: argument, command: [${JSON.stringify(process.execPath)}, ${JSON.stringify(recorder)}, "{prompt}"] } }`,
      },
    );
    const result = await tend(root, ['run', '--once'], { env: { FAKE_ARGV_DIR: dir } });
    expect(result.exitCode, result.report).toBe(0);
    expect(existsSync(pwned)).toBe(false);
    expect(await tendSubjects(root)).toContain('tend: evil review -> done');
    // What the triage agent was started with, as it saw it.
    const seen = JSON.parse(await readFile(path.join(dir, 'evil.triage.json'), 'utf8')) as {
      argv: string[];
      parent: string[];
    };
    expect(seen.argv).toHaveLength(1);
    const [prompt = ''] = seen.argv;
    // Title and text arrived byte for byte: no shell expanded, split or unquoted them.
    expect(prompt.split(evil).length - 1, prompt).toBeGreaterThanOrEqual(2);
    // The agent's parent is tend itself (node running bin/tend.js), not a shell.
    expect(seen.parent[0]).toBe(process.execPath);
    expect(seen.parent[1]).toMatch(/bin\/tend\.js$/);
  });
});
