// One attempt at one phase of one item: render the prompt, run the agent (or one agent per lens
// in a fan-out), check the artifact, run the gate, read the verdict. Returns a PhaseOutcome for
// decide.ts; throws AgentUnavailable when the agent CLI cannot even start (not the item's fault).
import { appendFile, lstat, mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { createAgent } from '../agents/index.js';
import { runProcess } from '../edges/process.js';
import type { AgentResult } from '../agents/types.js';
import { writeFileAtomic } from '../edges/store.js';
import { type Item } from '../core/backlog.js';
import { git, literal } from '../edges/git.js';
import type { Config } from '../core/config.js';
import type { Phase, Pipeline } from '../core/pipeline.js';
import { readYaml, splitFrontmatter } from '../core/frontmatter.js';
import { TendError } from '../core/problem.js';
import type { PhaseOutcome } from '../core/decide.js';
import { maxAttempts } from '../core/decide.js';
import { renderPrompt } from '../core/prompt.js';
import { readVerdict } from '../core/verdict.js';
import {
  branchTip,
  commitsNotByTend,
  prepareWorkspace,
  runHook,
  WorkspaceError,
  type Workspace,
} from '../edges/workspace.js';
import type { Slots } from '../core/slots.js';
import { itemLogDir, STATE_DIR } from '../edges/state-dir.js';

export class AgentUnavailable extends TendError {}

/** Where running agents' process groups are recorded (see stopOrphanedAgents). */
export const AGENT_PID_DIR = path.join(STATE_DIR, 'agents');

export interface PhaseRun {
  root: string;
  config: Config;
  item: Item;
  pipeline: Pipeline;
  phase: Phase;
  /** `--agent` given to `tend run`, overriding the configuration. */
  agentOverride?: string;
  baseBranch: string;
  slots: Slots;
  signal: AbortSignal;
  onActivity?: (lens: string | undefined, line: string) => void;
  onWarning?: (message: string) => void;
  /** Items another job works on: a change to their folders is that job's (or a person's) business. */
  heldElsewhere?: (file: string) => Promise<boolean>;
  /** Called once every agent of the attempt has exited (before hooks and the gate run). */
  onAgentsDone?: () => void;
}

/**
 * Whether a deleted `backlog/<folder>/<id>/...` file belongs to an item other than `own` that
 * exists in no folder now. An item that was moved (by another job, or a human) is not gone;
 * inbox files are left alone (intake moves them under another name).
 */
function itemGone(root: string, file: string, own: string): boolean {
  const [top, , id] = file.split('/');
  if (top !== 'backlog' || file.split('/').length < 4 || !id || id === own) return false;
  const folders = readdirSync(path.join(root, 'backlog'), { withFileTypes: true }).filter((e) => e.isDirectory());
  return !folders.some((f) => existsSync(path.join(root, 'backlog', f.name, id, 'item.md')));
}

/** Files under backlog/ that git has but the working tree does not. */
async function deletedBacklogFiles(root: string): Promise<Set<string>> {
  const out = await git(root, ['--no-optional-locks', 'ls-files', '--deleted', '-z', '--', 'backlog/']);
  return new Set(out.stdout.split('\0').filter(Boolean));
}

/** Commits on the base branch that tend did not make while a worktree agent ran are reported. */
async function warnOfCommitsOnBase(run: PhaseRun, root: string, before: string, ws: Workspace, who: string) {
  const foreign = await commitsNotByTend(root, before, ws.baseBranch);
  if (foreign.length === 0) return;
  const shown = foreign.slice(0, 3).join('; ') + (foreign.length > 3 ? '; ...' : '');
  run.onWarning?.(
    `${who} ran in its worktree while ${foreign.length} commit(s) not made by tend landed on ${ws.baseBranch} ` +
      `(${shown}); if the agent made them they skipped review: check them, and revert what should not be there`,
  );
}

/** Remove the symlinks in an item folder (never followed); returns their names. */
async function removeSymlinks(dirAbs: string): Promise<string[]> {
  const entries = await readdir(dirAbs, { withFileTypes: true }).catch(() => []);
  const links = entries.filter((e) => e.isSymbolicLink()).map((e) => e.name);
  for (const name of links) await rm(path.join(dirAbs, name), { force: true });
  return links;
}

/** review.md + lens security -> review-security.md */
export function lensArtifact(artifact: string, lens: string): string {
  const ext = path.extname(artifact);
  return `${artifact.slice(0, artifact.length - ext.length)}-${lens}${ext}`;
}

/** Artifacts are documents: anything larger is not committed (it would bloat the repository). */
export const MAX_ARTIFACT_BYTES = 5 * 1024 * 1024;

/** An artifact counts when it is a regular file (not a symlink) with some text in it. */
async function artifactState(file: string): Promise<'ok' | 'missing' | 'empty' | 'symlink' | 'oversize'> {
  try {
    const s = await lstat(file);
    if (s.isSymbolicLink()) return 'symlink';
    if (!s.isFile()) return 'missing';
    if (s.size > MAX_ARTIFACT_BYTES) return 'oversize';
    return (await readFile(file, 'utf8')).trim() === '' ? 'empty' : 'ok';
  } catch {
    return 'missing';
  }
}

async function artifactFrontmatter(file: string): Promise<{ data: Record<string, unknown>; body: string }> {
  const split = splitFrontmatter(await readFile(file, 'utf8'));
  if ('problem' in split) return { data: {}, body: '' };
  return { data: readYaml(split.value).data, body: split.value.body };
}

/** What a triage artifact (`file`, repository-relative) chooses; a frontmatter that cannot be read says why. */
function triageIn(phase: Phase, text: string, file: string): PhaseOutcome['triage'] {
  if (phase.name !== 'triage') return undefined;
  const split = splitFrontmatter(text);
  const problem = 'problem' in split ? split.problem : readYaml(split.value).problems[0];
  if (problem) return { unreadable: `${file}:${problem.line}: ${problem.message}` };
  const data = 'value' in split ? readYaml(split.value).data : {};
  return { pipeline: data.pipeline, priority: data.priority, labels: data.labels };
}

/** What the triage artifact of a waiting item chooses now (a human may have edited it). */
export async function triageOf(root: string, item: Item, phase: Phase): Promise<PhaseOutcome['triage']> {
  if (!item.dir) return undefined;
  const text = await readFile(path.join(root, item.dir, phase.artifact), 'utf8').catch(() => '');
  return triageIn(phase, text, `${item.dir}/${phase.artifact}`);
}

function failureOf(
  result: AgentResult,
  artifact: Awaited<ReturnType<typeof artifactState>>,
  name: string,
): string | undefined {
  if (result.spawnError) return `the agent could not be started: ${result.spawnError}`;
  if (result.stopped === 'timeout') return `the agent ran past the phase timeout and was stopped`;
  if (result.stopped === 'stall') return `the agent printed nothing for too long (stall_timeout) and was stopped`;
  if (result.killedBy) return `the agent was killed by ${result.killedBy}`;
  if (result.exitCode !== 0) return `the agent exited with code ${result.exitCode}`;
  if (result.error) return `the agent reported an error: ${result.error}`;
  if (artifact === 'symlink') return `${name} is a symlink; an artifact must be a file the agent wrote`;
  if (artifact === 'oversize')
    return `${name} is larger than ${MAX_ARTIFACT_BYTES / 1024 / 1024} MiB; it was moved to .tend/oversize/ and not committed`;
  if (artifact !== 'ok') return `the agent exited 0 but did not write ${name} (or left it empty)`;
  return undefined;
}

export async function runPhase(run: PhaseRun): Promise<PhaseOutcome> {
  const { root, config, item, pipeline, phase } = run;
  const settings = config.settings;
  const agentName = run.agentOverride ?? phase.agent ?? settings.agent;
  const model = phase.model ?? settings.agents[agentName]?.model ?? settings.model;
  const agent = createAgent(agentName, settings);
  const template = config.prompts.get(phase.prompt);
  if (template === undefined) throw new TendError(`prompt ${phase.prompt} is missing`, 'run `tend doctor`');
  const dir = item.dir ?? '';
  const attempt = item.fields.attempts;
  const logDir = itemLogDir(root, item.id);
  await mkdir(logDir, { recursive: true });
  const lenses: (string | undefined)[] = phase.fanout ?? [undefined];
  const feedback = typeof item.parsed.data.feedback === 'string' ? item.parsed.data.feedback : '(none)';
  const earlier = item.artifacts.filter(
    (a) => a !== phase.artifact && !lenses.some((l) => l && a === lensArtifact(phase.artifact, l)),
  );
  const agentLabel = agent.label(model);
  const failed = (failure: string): PhaseOutcome => ({
    ok: false,
    failure,
    costUsd: 0,
    durationMs: 0,
    agent: agentLabel,
  });

  let workspace: Workspace;
  try {
    workspace = await prepareWorkspace(
      root,
      item.id,
      phase.workspace ?? settings.workspace,
      run.baseBranch,
      settings,
      logDir,
      run.signal,
      item.fields.branch,
      phase.on_reject !== undefined,
    );
  } catch (err) {
    if (err instanceof WorkspaceError)
      return run.signal.aborted ? { ...failed(err.message), interrupted: true } : failed(err.message);
    throw err;
  }
  // In a worktree the item's files are still in the main checkout: give the agent absolute paths.
  const shown = (rel: string) => (workspace.kind === 'worktree' ? path.join(root, rel) : rel);
  const beforeRun = await runHook('before_run', settings, workspace.dir, logDir, run.signal);
  if (beforeRun) return run.signal.aborted ? { ...failed(beforeRun), interrupted: true } : failed(beforeRun);

  const runLens = async (lens: string | undefined) => {
    const artifact = lens ? lensArtifact(phase.artifact, lens) : phase.artifact;
    const artifactAbs = path.join(root, dir, artifact);
    // In a worktree the agent writes inside its own workspace (a sandboxed agent may write
    // nowhere else), under .tend/ which git ignores; tend copies the file into the item folder.
    const agentArtifact =
      workspace.kind === 'worktree' ? path.join(workspace.dir, STATE_DIR, 'artifacts', item.id, artifact) : artifactAbs;
    await rm(artifactAbs, { force: true }); // a stale artifact must not pass for this attempt's
    await rm(agentArtifact, { force: true });
    await mkdir(path.dirname(agentArtifact), { recursive: true });
    const stem = `${phase.name}${lens ? `-${lens}` : ''}.${attempt}`;
    const prompt = renderPrompt({
      context: config.context,
      template,
      phase,
      pipelines: [...config.pipelines.values()],
      itemBody: item.parsed.frontmatter.body,
      values: {
        id: item.id,
        title: item.fields.title,
        phase: phase.name,
        pipeline: pipeline.name,
        attempt: String(attempt),
        max_attempts: String(maxAttempts(phase, config)),
        item_path: shown(item.file),
        item_dir: shown(dir),
        artifact_path: agentArtifact === artifactAbs ? `${dir}/${artifact}` : agentArtifact,
        artifacts: earlier.length > 0 ? earlier.map((a) => `- ${shown(`${dir}/${a}`)}`).join('\n') : '(none yet)',
        lens: lens ?? 'general',
        feedback,
        workspace: workspace.dir,
        base_branch: workspace.baseBranch,
        branch: workspace.branch,
        diff_command: workspace.diffCommand,
      },
    });
    const promptFile = path.join(logDir, `${stem}.prompt.md`);
    await writeFile(promptFile, prompt);
    const result = await run.slots.with(() =>
      agent.run({
        id: item.id,
        phase: phase.name,
        pipeline: pipeline.name,
        lens,
        prompt,
        promptFile,
        artifactPath: agentArtifact,
        cwd: workspace.dir,
        model,
        timeoutMs: phase.timeout ?? settings.timeout,
        stallTimeoutMs: phase.stall_timeout ?? settings.stall_timeout,
        logFile: path.join(logDir, `${stem}.log`),
        logMaxBytes: settings.log_max_bytes,
        pidFile: path.join(root, AGENT_PID_DIR, `${item.id}.${stem}.pid`),
        signal: run.signal,
        onActivity: (line) => run.onActivity?.(lens, line),
      }),
    );
    for (const left of result.leftRunning ?? []) {
      const outcome = left.stopped ? 'stopped it' : 'could not stop it';
      run.onWarning?.(
        `${item.id}: the ${phase.name} agent left process ${left.pid} (${left.command}) running outside its process group; ${outcome}`,
      );
    }
    let state = await artifactState(agentArtifact);
    // A symlink is never an artifact, and one left in the item's folder would make the item
    // invalid (and be committed): the link goes, what it points to is left alone.
    if (state === 'symlink') await rm(agentArtifact, { force: true });
    if (state === 'oversize') {
      const aside = path.join(root, STATE_DIR, 'oversize', `${item.id}-${stem}-${artifact}`);
      await mkdir(path.dirname(aside), { recursive: true });
      await rename(agentArtifact, aside);
    }
    if (state === 'ok' && agentArtifact !== artifactAbs) {
      await writeFileAtomic(root, `${dir}/${artifact}`, await readFile(agentArtifact, 'utf8'));
      state = await artifactState(artifactAbs);
    }
    return {
      lens,
      artifact,
      artifactAbs,
      result,
      state,
      logFile: path.relative(root, path.join(logDir, `${stem}.log`)),
    };
  };

  // An agent in the checkout itself could delete other items' files; such deletions are put
  // back from git's index rather than committed later as a human's removal.
  const deletedBefore = workspace.kind === 'repo' ? await deletedBacklogFiles(root) : new Set<string>();
  const baseBefore = workspace.kind === 'worktree' ? await branchTip(root, workspace.baseBranch) : undefined;
  const phaseStarted = Date.now();
  const runs = await Promise.all(lenses.map(runLens));
  // The phase's time, not one lens's: lenses wait for slots when concurrency is lower.
  const phaseMs = Date.now() - phaseStarted;
  run.onAgentsDone?.();
  if (baseBefore) await warnOfCommitsOnBase(run, root, baseBefore, workspace, `${item.id}: the ${phase.name} agent`);
  if (workspace.kind === 'repo') {
    // An item another job holds that is gone was moved or removed by a person (its own job
    // stops its agent and commits that); putting it back would leave it twice, or back at all.
    const gone = [...(await deletedBacklogFiles(root))].filter(
      (f) => !deletedBefore.has(f) && itemGone(root, f, item.id),
    );
    const lost: string[] = [];
    for (const f of gone) if (!(await run.heldElsewhere?.(f))) lost.push(f);
    if (lost.length > 0) {
      await git(root, ['restore', '--worktree', '--', ...lost.map(literal)]);
      run.onWarning?.(
        `${item.id}: the ${phase.name} agent deleted ${lost.length} file(s) of other items (${lost.slice(0, 3).join(', ')}${lost.length > 3 ? ', ...' : ''}); restored from git`,
      );
    }
  }
  const links = await removeSymlinks(path.join(root, dir));
  if (links.length > 0)
    run.onWarning?.(
      `${item.id}: the ${phase.name} agent left symlink(s) in ${dir} (${links.join(', ')}); removed, not committed`,
    );
  const afterRun = await runHook('after_run', settings, workspace.dir, logDir, run.signal);
  if (afterRun)
    await appendFile(path.join(logDir, `${phase.name}.${attempt}.log`), `\n# ${afterRun}\n`).catch(() => undefined);
  const outcome: PhaseOutcome = {
    ok: false,
    costUsd: runs.reduce((sum, r) => sum + (r.result.costUsd ?? 0), 0),
    // A program that never started cost nothing; one that ran and said nothing cost unknown.
    costUnknown: runs.some((r) => r.result.costUsd === undefined && !r.result.spawnError) || undefined,
    durationMs: phaseMs,
    agent: agentLabel,
    logFile: runs[0]?.logFile,
    tail: runs[0]?.result.outputTail,
  };
  const tokens = runs.filter((r) => r.result.tokens);
  if (tokens.length > 0) {
    outcome.tokens = {
      input: tokens.reduce((s, r) => s + (r.result.tokens?.input ?? 0), 0),
      output: tokens.reduce((s, r) => s + (r.result.tokens?.output ?? 0), 0),
    };
  }
  const unavailable = runs.find((r) => r.result.missingProgram);
  if (unavailable)
    throw new AgentUnavailable(
      `agent ${agentName} could not start: ${unavailable.result.spawnError}`,
      `install it, fix agents.${agentName} in ORCHESTRATOR.md, or run with --agent dry-run`,
    );
  if (runs.some((r) => r.result.stopped === 'aborted')) return { ...outcome, interrupted: true };
  const limited = runs.find((r) => r.result.usageLimit);
  if (limited?.result.usageLimit) return { ...outcome, usageLimit: limited.result.usageLimit };
  const failedRun = runs
    .map((r) => ({ r, why: failureOf(r.result, r.state, `${dir}/${r.artifact}`) }))
    .find((x) => x.why);
  if (failedRun)
    return {
      ...outcome,
      failure: `${failedRun.r.lens ? `lens ${failedRun.r.lens}: ` : ''}${failedRun.why}`,
      logFile: failedRun.r.logFile,
      tail: failedRun.r.result.outputTail,
    };

  if (phase.fanout) {
    const lensFailure = await mergeFanout(root, item, phase, runs);
    if (lensFailure) return { ...outcome, failure: lensFailure };
  }
  const artifactText = await readFile(path.join(root, dir, phase.artifact), 'utf8');
  if (phase.on_reject) {
    const read = readVerdict(artifactText);
    if ('problem' in read) return { ...outcome, failure: `${dir}/${phase.artifact}: ${read.problem}` };
    outcome.verdict = read.verdict;
  }
  outcome.triage = triageIn(phase, artifactText, `${dir}/${phase.artifact}`);

  if (phase.gate) {
    const gateLog = path.join(logDir, `${phase.name}.${attempt}.gate.log`);
    const [command = 'sh', ...args] = Array.isArray(phase.gate) ? phase.gate : ['sh', '-c', phase.gate];
    const gate = await runProcess({
      command,
      args,
      cwd: workspace.dir,
      timeoutMs: phase.timeout ?? settings.timeout,
      stallTimeoutMs: phase.timeout ?? settings.timeout,
      logFile: gateLog,
      logMaxBytes: settings.log_max_bytes,
      signal: run.signal,
    });
    if (gate.stopped === 'aborted') return { ...outcome, interrupted: true };
    if (gate.exitCode !== 0) {
      const gateText = Array.isArray(phase.gate) ? phase.gate.join(' ') : phase.gate;
      return {
        ...outcome,
        failure: `the gate \`${gateText}\` failed (${gate.spawnError ?? `exit ${gate.exitCode ?? gate.stopped}`})`,
        logFile: path.relative(root, gateLog),
        tail: gate.tail,
      };
    }
  }
  return { ...outcome, ok: true };
}

/**
 * Merge the lens reviews into the phase artifact: a summary table, then each review. When the
 * phase acts on a verdict, a lens without one fails the attempt (the message names the lens)
 * rather than counting as a rejection; nothing is merged then.
 */
async function mergeFanout(
  root: string,
  item: Item,
  phase: Phase,
  runs: { lens?: string; artifact: string; artifactAbs: string }[],
): Promise<string | undefined> {
  const rows: string[] = [];
  const sections: string[] = [];
  let rejected = false;
  for (const r of runs) {
    const review = await readFile(r.artifactAbs, 'utf8');
    const { body } = await artifactFrontmatter(r.artifactAbs);
    const read = readVerdict(review);
    if ('problem' in read && phase.on_reject) return `lens ${r.lens}: ${item.dir ?? ''}/${r.artifact}: ${read.problem}`;
    const verdict = 'verdict' in read ? read.verdict : 'none';
    if (verdict !== 'approve') rejected = true;
    const summary =
      body
        .split('\n')
        .map((l) => l.replace(/^#+\s*/, '').trim())
        .find((l) => l !== '') ?? '';
    rows.push(`| ${r.lens} | ${verdict} | ${summary.replace(/\|/g, '\\|').slice(0, 100)} | ${r.artifact} |`);
    sections.push(`## ${r.lens}\n\n${body.trim()}`);
  }
  const text = [
    `---\nverdict: ${rejected ? 'reject' : 'approve'}\n---`,
    `# ${phase.name} of ${item.fields.title}`,
    `${runs.length} lenses; the verdict is reject if any lens rejects or gives none.`,
    `| lens | verdict | summary | file |\n| --- | --- | --- | --- |\n${rows.join('\n')}`,
    ...sections,
  ].join('\n\n');
  await writeFileAtomic(root, `${item.dir ?? ''}/${phase.artifact}`, `${text}\n`);
  return undefined;
}
