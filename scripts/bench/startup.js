// Start-up of `tend --help` and `tend status` in an empty repository (after `tend init`), against
// the floor any tool that reads a git repository with Node pays: `git status` plus `node -e 0`.
// The four commands run in turns, many rounds, so a machine that slows down mid-run slows all
// four alike; each figure is a median with its 10th and 90th percentiles. CPU (user + system,
// from GNU time) drifts less than wall time on a busy machine.
import { percentile, TEND, timed } from './tools.js';

const COMMANDS = {
  gitStatus: ['git', ['status']],
  node: ['node', ['-e', '0']],
  help: ['node', [TEND, '--help']],
  status: ['node', [TEND, 'status']],
};

const spread = (values) => ({
  median: percentile(values, 50),
  p10: percentile(values, 10),
  p90: percentile(values, 90),
});

/** `rounds` interleaved runs of each command in `root`: wall and CPU milliseconds, median and spread. */
export function startup(root, rounds = 21) {
  const samples = Object.fromEntries(Object.keys(COMMANDS).map((name) => [name, { wall: [], cpu: [] }]));
  for (let round = 0; round < rounds; round++) {
    for (const [name, [cmd, args]] of Object.entries(COMMANDS)) {
      const run = timed(root, cmd, args);
      samples[name].wall.push(run.wallMs);
      if (run.userS !== undefined) samples[name].cpu.push((run.userS + run.sysS) * 1000);
    }
  }
  const figures = { rounds };
  for (const [name, { wall, cpu }] of Object.entries(samples)) {
    figures[name] = { wall: spread(wall), cpu: cpu.length > 0 ? spread(cpu) : undefined };
  }
  const floor = (kind) => (figures.node[kind] ? figures.gitStatus[kind].median + figures.node[kind].median : undefined);
  figures.floor = { wall: floor('wall'), cpu: floor('cpu') };
  for (const name of ['help', 'status']) {
    figures[name].overFloor = {
      wall: figures[name].wall.median - figures.floor.wall,
      cpu: figures.floor.cpu === undefined ? undefined : figures[name].cpu.median - figures.floor.cpu,
    };
    figures[name].ratio = figures[name].wall.median / figures.floor.wall;
  }
  return figures;
}

const ms = (v) => `${Math.round(v)} ms`;
const cell = (s) => (s ? `${ms(s.median)} (${Math.round(s.p10)}-${Math.round(s.p90)})` : 'n/a');

/** The start-up figures as printed lines. */
export function startupLines(f) {
  const label = { gitStatus: 'git status', node: 'node -e 0', help: 'tend --help', status: 'tend status' };
  const lines = [
    `start-up in an empty backlog, ${f.rounds} interleaved runs each: median (p10-p90); CPU is user + system`,
    `${''.padEnd(26)}${'wall'.padEnd(26)}CPU`,
  ];
  for (const name of ['gitStatus', 'node', 'help', 'status']) {
    lines.push(`  ${label[name].padEnd(24)}${cell(f[name].wall).padEnd(26)}${cell(f[name].cpu)}`);
  }
  const cpuFloor = f.floor.cpu === undefined ? 'n/a' : ms(f.floor.cpu);
  lines.push(`  ${'floor: git + node'.padEnd(24)}${ms(f.floor.wall).padEnd(26)}${cpuFloor}`);
  for (const name of ['help', 'status']) {
    const over = f[name].overFloor;
    const cpu = over.cpu === undefined ? 'n/a' : `+${ms(over.cpu)}`;
    lines.push(
      `  ${`${label[name]} - floor`.padEnd(24)}${`+${ms(over.wall)} (${f[name].ratio.toFixed(2)}x)`.padEnd(26)}${cpu}`,
    );
  }
  return lines.join('\n');
}
