// A simulated night for `npm run bench`: items through `coding` with an agent whose phase times
// follow a realistic spread (scaled down), and the makespan against its lower bound:
// max(the time items hold slots / slots, the longest item's chain of phases), where a fan-out
// phase counts its longest lens (its lenses run side by side).
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ENV, itemText, removeRepo, sh, TEND, timed } from './tools.js';

const SLEEP_AGENT = path.join(path.dirname(fileURLToPath(import.meta.url)), 'sleep-agent.js');
// Relative phase lengths of a real night (a build is the longest; each review lens is short).
const PHASE_MS = {
  triage: 300,
  research: 1500,
  prd: 1200,
  'tech-research': 1500,
  design: 1200,
  spec: 900,
  build: 3000,
  review: 900,
};

/**
 * The lower bound from what the agents actually slept (one line per agent run). A slot is an
 * item in a phase: a fan-out's lenses run side by side in one, so the phase holds its slot as
 * long as its longest lens, and that is what the slots' total (slotMs) counts.
 */
export function lowerBound(agentLog, slots) {
  const runs = agentLog
    .trim()
    .split('\n')
    .map((line) => line.split(' '))
    .map(([id, phase, lens, ms]) => ({ id, phase, lens, ms: Number(ms) }));
  const total = runs.reduce((sum, r) => sum + r.ms, 0);
  const phaseMs = new Map(); // "<id> <phase>" -> the longest lens (lenses run side by side)
  for (const r of runs) phaseMs.set(`${r.id} ${r.phase}`, Math.max(phaseMs.get(`${r.id} ${r.phase}`) ?? 0, r.ms));
  const slotMs = [...phaseMs.values()].reduce((sum, ms) => sum + ms, 0);
  const chains = new Map();
  for (const [key, ms] of phaseMs) chains.set(key.split(' ')[0], (chains.get(key.split(' ')[0]) ?? 0) + ms);
  const longest = Math.max(...chains.values());
  return { totalAgentMs: total, slotMs, longestChainMs: longest, boundMs: Math.max(slotMs / slots, longest) };
}

/** `items` items through coding at `slots` concurrency in `root` (a tend repository). */
export function night(root, items, slots, scale) {
  const state = mkdtempSync(path.join(os.tmpdir(), 'tend-bench-night-'));
  const phaseMs = Object.fromEntries(Object.entries(PHASE_MS).map(([k, v]) => [k, Math.round(v * scale)]));
  writeFileSync(
    path.join(root, 'ORCHESTRATOR.md'),
    [
      '---',
      'agent: sleeper',
      `concurrency: ${slots}`,
      'agents:',
      `  sleeper: { type: command, command: [${JSON.stringify(process.execPath)}, ${JSON.stringify(SLEEP_AGENT)}] }`,
      '---',
      '',
    ].join('\n'),
  );
  for (let i = 0; i < items; i++) writeFileSync(path.join(root, 'backlog', `night-${i}.md`), itemText(i, 'coding'));
  sh(root, 'git', 'add', '--all');
  sh(root, 'git', 'commit', '--quiet', '-m', 'a night of work');
  const env = { ...ENV, BENCH_PHASE_MS: JSON.stringify(phaseMs), BENCH_STATE: state };
  const run = timed(root, 'node', [TEND, 'run', '--once', '--json'], env);
  const bound = lowerBound(readFileSync(path.join(state, 'agents.log'), 'utf8'), slots);
  removeRepo(state);
  return { makespanMs: run.wallMs, ...bound, ratio: run.wallMs / bound.boundMs };
}
