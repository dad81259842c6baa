// `tend doctor`: everything that would stop a run, found before an agent is paid, each with
// the fix.
import { agentType, type Settings } from '../../core/settings.js';
import { commitIdentity, stateDirIgnored, workTreeRoot } from '../../edges/repo-setup.js';
import { paint, printJson } from '../output.js';
import { formatProblem } from '../../core/problem.js';
import { openRepo, type Repo } from '../../edges/repo.js';
import { findExecutable } from '../../edges/which.js';
import { ATTRIBUTES_LINE, driverSetup, type DriverSetup } from '../../edges/merge-driver.js';

export interface Check {
  name: string;
  ok: boolean;
  /** A warning does not fail the doctor. */
  severity: 'error' | 'warning';
  details: string[];
  fix?: string;
}

/** The program each configured agent would start, by agent name. */
export function agentPrograms(settings: Settings, agents: Iterable<string>): Map<string, string | undefined> {
  const defaults: Record<string, string | undefined> = {
    'dry-run': undefined,
    claude: 'claude',
    codex: 'codex',
    opencode: 'opencode',
    command: undefined,
  };
  const programs = new Map<string, string | undefined>();
  for (const name of agents) {
    const type = agentType(settings, name);
    if (!type) continue;
    const command = settings.agents[name]?.command;
    programs.set(name, (Array.isArray(command) ? command[0] : command) ?? defaults[type]);
  }
  return programs;
}

const IDENTITY_FIX =
  'git config --global user.name "Your Name" && git config --global user.email you@example.com, ' +
  'or set git.author in ORCHESTRATOR.md';

function configurationChecks(repo: Repo, identity: string | undefined): Check[] {
  const checks: Check[] = [
    {
      name: 'git identity',
      ok: identity !== undefined,
      severity: 'error',
      details: [identity ?? 'git does not know who commits'],
      fix: IDENTITY_FIX,
    },
    {
      name: 'configuration',
      ok: repo.errors.length === 0,
      severity: 'error',
      details: repo.errors.map(formatProblem),
      fix: 'correct the files named above; see the README, "Configuration"',
    },
  ];
  if (repo.warnings.length > 0)
    checks.push({
      name: 'configuration warnings',
      ok: false,
      severity: 'warning',
      details: repo.warnings.map(formatProblem),
    });
  return checks;
}

/** Every agent the settings or a phase names whose program is not found. */
function agentChecks(repo: Repo): Check[] {
  const { settings } = repo.config;
  const agents = new Set([
    settings.agent,
    ...[...repo.config.pipelines.values()].flatMap((p) => p.phases.flatMap((ph) => (ph.agent ? [ph.agent] : []))),
  ]);
  const checks: Check[] = [];
  for (const [name, program] of agentPrograms(settings, agents)) {
    if (!program) continue;
    const found = findExecutable(program, repo.root);
    checks.push({
      name: `agent ${name}`,
      ok: found !== undefined,
      severity: 'error',
      details: [found ?? `\`${program}\` is not on PATH`],
      fix: `install ${program}, or run with \`tend run --agent dry-run\` to try the pipeline without it`,
    });
  }
  return checks;
}

function stateDirCheck(ignored: boolean): Check {
  return {
    name: '.tend/ ignored by git',
    ok: ignored,
    severity: 'error',
    details: [ignored ? 'yes' : '.tend/ holds local runtime state and must not be committed'],
    fix: 'add the line `.tend/` to .gitignore (tend init does this)',
  };
}

function backlogCheck(repo: Repo): Check {
  const invalid = repo.snapshot.invalid;
  return {
    name: 'backlog items',
    ok: invalid.length === 0,
    severity: 'warning',
    details:
      invalid.length === 0
        ? [`${repo.snapshot.items.length} valid`]
        : invalid.flatMap((i) => i.problems.map(formatProblem)),
    fix: 'fix or move these files; tend leaves them untouched until then',
  };
}

export async function doctor(cwd: string): Promise<Check[]> {
  const root = await workTreeRoot(cwd);
  if (!root) {
    return [
      {
        name: 'git repository',
        ok: false,
        severity: 'error',
        details: [`${cwd} is not inside a git repository`],
        fix: 'run `tend init`',
      },
    ];
  }
  // Every finished item is read and checked here too: the other commands know done/ by its ids.
  const repo = await openRepo(root, { finished: 'read' });
  const identity = await commitIdentity(root, repo.config.settings.git.author);
  return [
    { name: 'git repository', ok: true, severity: 'error', details: [root] },
    ...configurationChecks(repo, identity),
    ...agentChecks(repo),
    stateDirCheck(await stateDirIgnored(root)),
    backlogCheck(repo),
    mergeDriverCheck(await driverSetup(root)),
  ];
}

/** Item files merge key by key only where the local git config defines the driver (a clone lacks it). */
function mergeDriverCheck(setup: DriverSetup): Check {
  const details: string[] = [];
  if (!setup.attributes) details.push(`.gitattributes lacks the line \`${ATTRIBUTES_LINE}\``);
  if (setup.driver === 'missing') details.push('git config merge.tend.driver is not set in this clone');
  if (setup.driver === 'elsewhere') details.push(`merge.tend.driver runs a tend that is gone: ${setup.configured}`);
  const ok = details.length === 0;
  return {
    name: 'item merge driver',
    ok,
    severity: 'warning',
    details: ok ? ['item files merge key by key on git pull'] : details,
    fix:
      'run `tend init` in this clone: it sets the local git config and .gitattributes ' +
      '(git config does not travel with a clone)',
  };
}

export function printChecks(checks: Check[], json: boolean): void {
  if (json) {
    printJson({ version: 1, ok: checks.every((c) => c.ok || c.severity === 'warning'), checks });
    return;
  }
  const c = paint(process.stdout);
  for (const check of checks) {
    const mark = check.ok ? c('green', 'ok  ') : check.severity === 'error' ? c('red', 'FAIL') : c('yellow', 'warn');
    process.stdout.write(
      `${mark} ${check.name}${check.ok && check.details[0] ? c('dim', ` — ${check.details[0]}`) : ''}\n`,
    );
    if (!check.ok) {
      for (const d of check.details) process.stdout.write(`       ${d}\n`);
      if (check.fix) process.stdout.write(`       ${c('cyan', 'fix:')} ${check.fix}\n`);
    }
  }
}
