// One attempt at one phase of one item: render the prompt, run the agent (or one agent per lens
// in a fan-out), check the artifact, run the gate, read the verdict. Returns a PhaseOutcome for
// decide.ts; throws AgentUnavailable when the agent CLI cannot even start (not the item's fault).
import { appendFile, lstat, mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { createAgent } from '../agents/index.js';
import { runProcess } from '../edges/process.js';
import type { Agent, AgentRequest, AgentResult } from '../agents/types.js';
import { writeFileAtomic } from '../edges/store.js';
import { type Item } from '../core/backlog.js';
import { git, literal } from '../edges/git.js';
import type { Config } from '../core/config.js';
import { lensArtifact, type Phase, type Pipeline } from '../core/pipeline.js';
import { readYaml, splitFrontmatter } from '../core/frontmatter.js';
import { TendError } from '../core/problem.js';
import type { PhaseOutcome } from '../core/decide.js';
import { maxAttempts } from '../core/decide.js';
import { renderPrompt } from '../core/prompt.js';
import { readVerdict } from '../core/verdict.js';
import {
  backlogFilesAt,
  branchTip,
  closeLensWorktrees,
  closeLeftoverLensWorktrees,
  commitsNotByTend,
  itemBranch,
  lensWorktreeDir,
  openLensWorktree,
  prepareWorkspace,
  runHook,
  WorkspaceError,
  type LensContext,
  type Workspace,
} from '../edges/workspace.js';
import { itemLogDir, STATE_DIR } from '../edges/state-dir.js';
import { trackingRef } from '../edges/remote.js';

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
  /** The remote the run syncs with: the item's branch is brought up to its copy there first. */
  remote?: string;
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

export { lensArtifact };

/** Artifacts are documents: anything larger is not committed (it would bloat the repository). */
export const MAX_ARTIFACT_BYTES = 5 * 1024 * 1024;

type ArtifactState = 'ok' | 'missing' | 'empty' | 'symlink' | 'oversize';

/** An artifact counts when it is a regular file (not a symlink) with some text in it. */
async function artifactState(file: string): Promise<ArtifactState> {
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

/** Why a lens's run fails the attempt (the agent's exit, then its artifact), or undefined. */
function failureOf(result: AgentResult, artifact: ArtifactState, name: string): string | undefined {
  if (result.spawnError) return `the agent could not be started: ${result.spawnError}`;
  if (result.stopped === 'timeout') return `the agent ran past the phase timeout and was stopped`;
  if (result.stopped === 'stall') return `the agent printed nothing for too long (stall_timeout) and was stopped`;
  if (result.killedBy) return `the agent was killed by ${result.killedBy}`;
  if (result.exitCode !== 0) return `the agent exited with code ${result.exitCode}`;
  if (result.error) return `the agent reported an error: ${result.error}`;
  if (artifact === 'symlink') return `${name} is a symlink; an artifact must be a file the agent wrote`;
  if (artifact === 'oversize') {
    const limit = `${MAX_ARTIFACT_BYTES / 1024 / 1024} MiB`;
    return `${name} is larger than ${limit}; it was moved to .tend/oversize/ and not committed`;
  }
  if (artifact !== 'ok') return `the agent exited 0 but did not write ${name} (or left it empty)`;
  return undefined;
}

/** What one attempt works with, settled before its workspace is opened. */
interface Attempt {
  run: PhaseRun;
  agentName: string;
  agent: Agent;
  model: string | undefined;
  /** The agent as commit trailers name it, e.g. `claude (opus)`. */
  agentLabel: string;
  /** The phase's prompt template. */
  template: string;
  /** The item's folder, relative to the repository. */
  dir: string;
  /** The item's attempt count, which names this attempt's logs and prompt files. */
  number: number;
  logDir: string;
  /** One agent runs per entry: the lenses of a fan-out, or a single undefined. */
  lenses: (string | undefined)[];
}

/** One agent's run in an attempt (the only one, or one lens of a fan-out). */
interface LensRun {
  lens: string | undefined;
  /** The artifact's name in the item folder, and its absolute path. */
  artifact: string;
  artifactAbs: string;
  result: AgentResult;
  state: ArtifactState;
  /** The agent's log, relative to the repository. */
  logFile: string;
}

interface LensFiles {
  artifact: string;
  artifactAbs: string;
  agentArtifact: string;
  stem: string;
}

/** Resolves the agent, model and prompt template, and makes the item's log folder. */
async function setUpAttempt(run: PhaseRun): Promise<Attempt> {
  const { root, config, item, phase } = run;
  const settings = config.settings;
  const agentName = run.agentOverride ?? phase.agent ?? settings.agent;
  const model = phase.model ?? settings.agents[agentName]?.model ?? settings.model;
  const agent = createAgent(agentName, settings);
  const template = config.prompts.get(phase.prompt);
  if (template === undefined) throw new TendError(`prompt ${phase.prompt} is missing`, 'run `tend doctor`');
  const logDir = itemLogDir(root, item.id);
  await mkdir(logDir, { recursive: true });
  return {
    run,
    agentName,
    agent,
    model,
    agentLabel: agent.label(model),
    template,
    dir: item.dir ?? '',
    number: item.fields.attempts,
    logDir,
    lenses: phase.fanout ?? [undefined],
  };
}

/** An attempt that failed before any agent ran: nothing spent, no time counted. */
function failedBeforeAgents(attempt: Attempt, failure: string): PhaseOutcome {
  const outcome: PhaseOutcome = { ok: false, failure, costUsd: 0, durationMs: 0, agent: attempt.agentLabel };
  return attempt.run.signal.aborted ? { ...outcome, interrupted: true } : outcome;
}

/** Where the attempt's agents run: the workspace, and for each lens the workspace its agent runs in. */
interface Opened {
  workspace: Workspace;
  /** One per entry of `attempt.lenses`: a lens's own worktree in a worktree fan-out, else the workspace. */
  spaces: Workspace[];
}

/** Whether each lens gets its own worktree: a fan-out in a worktree phase. */
function lensWorktrees(attempt: Attempt, workspace: Workspace): boolean {
  return attempt.run.phase.fanout !== undefined && workspace.kind === 'worktree';
}

/** The attempt's workspaces with their before_run hooks done; a failure of any fails the attempt. */
async function openWorkspace(attempt: Attempt): Promise<Opened | { failed: PhaseOutcome }> {
  const { root, item, phase, config, baseBranch, signal, remote } = attempt.run;
  const settings = config.settings;
  const upstream = remote ? { ref: trackingRef(remote, itemBranch(item.id)), remote } : undefined;
  let workspace: Workspace;
  try {
    workspace = await prepareWorkspace(
      root,
      item.id,
      phase.workspace ?? settings.workspace,
      baseBranch,
      settings,
      attempt.logDir,
      signal,
      item.fields.branch,
      phase.on_reject !== undefined,
      upstream,
    );
  } catch (err) {
    if (err instanceof WorkspaceError) return { failed: failedBeforeAgents(attempt, err.message) };
    throw err;
  }
  if (lensWorktrees(attempt, workspace)) return openLensWorktrees(attempt, workspace);
  const beforeRun = await runHook('before_run', settings, workspace.dir, attempt.logDir, signal);
  return beforeRun
    ? { failed: failedBeforeAgents(attempt, beforeRun) }
    : { workspace, spaces: attempt.lenses.map(() => workspace) };
}

/**
 * A worktree per lens, side by side, each with its before_run hook done: the lenses of a fan-out
 * run at once, and agents that run git in one worktree would collide on its index.lock. What a
 * run cut off mid-review left is collected first, once, lens by lens: its work is carried onto
 * the branch in the item's worktree, where two cherry-picks at once would collide. If one cannot
 * be made ready, the attempt fails before any agent starts and those made are removed.
 */
async function openLensWorktrees(attempt: Attempt, workspace: Workspace): Promise<Opened | { failed: PhaseOutcome }> {
  const { root, item } = attempt.run;
  const ctx = { ...lensContext(attempt), backlog: backlogFilesAt(root, workspace.branch) };
  ctx.backlog.catch(() => undefined); // each lens awaits it, and fails with its error
  const [stale] = await closeLeftoverLensWorktrees(ctx);
  if (stale) {
    const kept = path.relative(root, lensWorktreeDir(root, item.id, stale.lens));
    return { failed: failedBeforeAgents(attempt, `the worktree ${kept} was kept: ${stale.error.message}`) };
  }
  const opened = await Promise.allSettled(
    attempt.lenses.map((lens) => openLensWorktree(ctx, workspace, lens ?? 'general')),
  );
  const failed = opened.find((o): o is PromiseRejectedResult => o.status === 'rejected');
  if (!failed) return { workspace, spaces: opened.map((o) => (o as PromiseFulfilledResult<Workspace>).value) };
  await removeLensWorktrees(attempt);
  if (failed.reason instanceof WorkspaceError) return { failed: failedBeforeAgents(attempt, failed.reason.message) };
  throw failed.reason;
}

function lensContext(attempt: Attempt): LensContext {
  const { root, item, config, signal, onWarning } = attempt.run;
  const warn = (message: string) => onWarning?.(message);
  return { root, id: item.id, settings: config.settings, logDir: attempt.logDir, signal, warn };
}

/**
 * Remove the lens worktrees once their work is kept (see closeLensWorktrees), carried onto the
 * branch in the fan-out's order. One that cannot be cleaned up is kept and reported; the review
 * has its artifacts either way, and the next attempt or the item's end tries again.
 */
async function removeLensWorktrees(attempt: Attempt): Promise<void> {
  const { root, item, onWarning } = attempt.run;
  const lenses = attempt.lenses.filter((l): l is string => l !== undefined);
  for (const { lens, error } of await closeLensWorktrees(lensContext(attempt), lenses)) {
    const kept = path.relative(root, lensWorktreeDir(root, item.id, lens));
    onWarning?.(`${item.id}: the worktree ${kept} was kept: ${error.message}`);
  }
}

/** Where one lens's artifact goes, where its agent writes it, and the stem of its log files. */
function lensFiles(attempt: Attempt, workspace: Workspace, lens: string | undefined): LensFiles {
  const { root, item, phase } = attempt.run;
  const artifact = lens ? lensArtifact(phase.artifact, lens) : phase.artifact;
  const artifactAbs = path.join(root, attempt.dir, artifact);
  // In a worktree the agent writes inside its own workspace (a sandboxed agent may write
  // nowhere else), under .tend/ which git ignores; tend copies the file into the item folder.
  const agentArtifact =
    workspace.kind === 'worktree' ? path.join(workspace.dir, STATE_DIR, 'artifacts', item.id, artifact) : artifactAbs;
  const stem = `${phase.name}${lens ? `-${lens}` : ''}.${attempt.number}`;
  return { artifact, artifactAbs, agentArtifact, stem };
}

/** The item's artifacts from earlier phases: neither this phase's nor one of its lenses'. */
function earlierArtifacts(attempt: Attempt): string[] {
  const { item, phase } = attempt.run;
  return item.artifacts.filter(
    (a) => a !== phase.artifact && !attempt.lenses.some((l) => l && a === lensArtifact(phase.artifact, l)),
  );
}

/** The prompt one lens's agent receives. */
function lensPrompt(attempt: Attempt, workspace: Workspace, lens: string | undefined, files: LensFiles): string {
  const { root, config, item, pipeline, phase } = attempt.run;
  const dir = attempt.dir;
  // In a worktree the item's files are still in the main checkout: give the agent absolute paths.
  const shown = (rel: string) => (workspace.kind === 'worktree' ? path.join(root, rel) : rel);
  const earlier = earlierArtifacts(attempt);
  return renderPrompt({
    context: config.context,
    template: attempt.template,
    phase,
    pipelines: [...config.pipelines.values()],
    itemBody: item.parsed.frontmatter.body,
    values: {
      id: item.id,
      title: item.fields.title,
      phase: phase.name,
      pipeline: pipeline.name,
      attempt: String(attempt.number),
      max_attempts: String(maxAttempts(phase, config)),
      item_path: shown(item.file),
      item_dir: shown(dir),
      artifact_path: files.agentArtifact === files.artifactAbs ? `${dir}/${files.artifact}` : files.agentArtifact,
      artifacts: earlier.length > 0 ? earlier.map((a) => `- ${shown(`${dir}/${a}`)}`).join('\n') : '(none yet)',
      lens: lens ?? 'general',
      feedback: typeof item.parsed.data.feedback === 'string' ? item.parsed.data.feedback : '(none)',
      workspace: workspace.dir,
      base_branch: workspace.baseBranch,
      branch: workspace.branch,
      diff_command: workspace.diffCommand,
    },
  });
}

/** What one lens's agent is asked to do, and within which limits. */
function agentRequest(
  attempt: Attempt,
  workspace: Workspace,
  lens: string | undefined,
  files: LensFiles,
  prompt: { text: string; file: string },
): AgentRequest {
  const { root, item, pipeline, phase, config, signal } = attempt.run;
  const settings = config.settings;
  return {
    id: item.id,
    phase: phase.name,
    pipeline: pipeline.name,
    lens,
    prompt: prompt.text,
    promptFile: prompt.file,
    artifactPath: files.agentArtifact,
    cwd: workspace.dir,
    model: attempt.model,
    timeoutMs: phase.timeout ?? settings.timeout,
    stallTimeoutMs: phase.stall_timeout ?? settings.stall_timeout,
    logFile: path.join(attempt.logDir, `${files.stem}.log`),
    logMaxBytes: settings.log_max_bytes,
    pidFile: path.join(root, AGENT_PID_DIR, `${item.id}.${files.stem}.pid`),
    signal,
    onActivity: (line) => attempt.run.onActivity?.(lens, line),
  };
}

function warnOfLeftRunning(run: PhaseRun, result: AgentResult): void {
  for (const left of result.leftRunning ?? []) {
    const outcome = left.stopped ? 'stopped it' : 'could not stop it';
    run.onWarning?.(
      `${run.item.id}: the ${run.phase.name} agent left process ${left.pid} (${left.command}) running ` +
        `outside its process group; ${outcome}`,
    );
  }
}

/**
 * The artifact the agent left, made into what the attempt counts: a symlink is never an
 * artifact, and one left in the item's folder would make the item invalid (and be committed), so
 * the link goes and what it points to is left alone; an oversize file is moved aside; a file
 * written in a worktree is copied into the item folder.
 */
async function settleArtifact(attempt: Attempt, files: LensFiles): Promise<ArtifactState> {
  const { root, item } = attempt.run;
  let state = await artifactState(files.agentArtifact);
  if (state === 'symlink') await rm(files.agentArtifact, { force: true });
  if (state === 'oversize') {
    const aside = path.join(root, STATE_DIR, 'oversize', `${item.id}-${files.stem}-${files.artifact}`);
    await mkdir(path.dirname(aside), { recursive: true });
    await rename(files.agentArtifact, aside);
  }
  if (state === 'ok' && files.agentArtifact !== files.artifactAbs) {
    await writeFileAtomic(root, `${attempt.dir}/${files.artifact}`, await readFile(files.agentArtifact, 'utf8'));
    state = await artifactState(files.artifactAbs);
  }
  return state;
}

/** One agent of the attempt: its prompt written, the agent run in its workspace, its artifact settled. */
async function runLens(attempt: Attempt, workspace: Workspace, lens: string | undefined): Promise<LensRun> {
  const files = lensFiles(attempt, workspace, lens);
  await rm(files.artifactAbs, { force: true }); // a stale artifact must not pass for this attempt's
  await rm(files.agentArtifact, { force: true });
  await mkdir(path.dirname(files.agentArtifact), { recursive: true });
  const prompt = {
    text: lensPrompt(attempt, workspace, lens, files),
    file: path.join(attempt.logDir, `${files.stem}.prompt.md`),
  };
  await writeFile(prompt.file, prompt.text);
  const result = await attempt.agent.run(agentRequest(attempt, workspace, lens, files, prompt));
  warnOfLeftRunning(attempt.run, result);
  const state = await settleArtifact(attempt, files);
  const logFile = path.relative(attempt.run.root, path.join(attempt.logDir, `${files.stem}.log`));
  return { lens, artifact: files.artifact, artifactAbs: files.artifactAbs, result, state, logFile };
}

/**
 * Files of other items that the agent deleted from the checkout, put back from git's index. An
 * item another job holds that is gone was moved or removed by a person (its own job stops its
 * agent and commits that); putting it back would leave it twice, or back at all.
 */
async function restoreOtherItemsFiles(run: PhaseRun, deletedBefore: Set<string>): Promise<void> {
  const { root, item, phase } = run;
  const gone = [...(await deletedBacklogFiles(root))].filter(
    (f) => !deletedBefore.has(f) && itemGone(root, f, item.id),
  );
  const lost: string[] = [];
  for (const f of gone) if (!(await run.heldElsewhere?.(f))) lost.push(f);
  if (lost.length === 0) return;
  await git(root, ['restore', '--worktree', '--', ...lost.map(literal)]);
  const shown = `${lost.slice(0, 3).join(', ')}${lost.length > 3 ? ', ...' : ''}`;
  run.onWarning?.(
    `${item.id}: the ${phase.name} agent deleted ${lost.length} file(s) of other items (${shown}); restored from git`,
  );
}

/**
 * After the agents exit: symlinks they left in the item folder go, the after_run hook runs where
 * each agent ran (a failure is only logged), and lens worktrees are removed.
 */
async function cleanUpAfterAgents(attempt: Attempt, opened: Opened): Promise<void> {
  const { run, dir, logDir } = attempt;
  const links = await removeSymlinks(path.join(run.root, dir));
  if (links.length > 0) {
    const agent = `${run.item.id}: the ${run.phase.name} agent`;
    run.onWarning?.(`${agent} left symlink(s) in ${dir} (${links.join(', ')}); removed, not committed`);
  }
  const own = lensWorktrees(attempt, opened.workspace);
  const spaces = own ? opened.spaces : [opened.workspace];
  await Promise.all(
    spaces.map(async (space, i) => {
      const lens = own ? attempt.lenses[i] : undefined;
      const afterRun = await runHook('after_run', run.config.settings, space.dir, logDir, run.signal, lens);
      const phaseLog = path.join(logDir, `${run.phase.name}${lens ? `-${lens}` : ''}.${attempt.number}.log`);
      if (afterRun) await appendFile(phaseLog, `\n# ${afterRun}\n`).catch(() => undefined);
    }),
  );
  if (own) await removeLensWorktrees(attempt);
}

/**
 * Every agent of the attempt, side by side in a worktree phase (each lens in its own worktree;
 * in the checkout one after another), then what they did
 * outside their artifact (commits on the base branch, other items' files deleted, symlinks) and
 * the after_run hook. Returns the runs and the phase's wall time.
 */
async function runAgents(attempt: Attempt, opened: Opened): Promise<{ runs: LensRun[]; phaseMs: number }> {
  const { run } = attempt;
  const { workspace, spaces } = opened;
  const { root, item, phase } = run;
  // An agent in the checkout itself could delete other items' files; such deletions are put
  // back from git's index rather than committed later as a human's removal.
  const deletedBefore = workspace.kind === 'repo' ? await deletedBacklogFiles(root) : new Set<string>();
  const baseBefore = workspace.kind === 'worktree' ? await branchTip(root, workspace.baseBranch) : undefined;
  const phaseStarted = Date.now();
  const runs = lensWorktrees(attempt, workspace)
    ? await Promise.all(attempt.lenses.map((lens, i) => runLens(attempt, spaces[i] ?? workspace, lens)))
    : await oneAfterAnother(attempt, workspace);
  // The phase's time, from the first lens's start to the last one's end, not one lens's.
  const phaseMs = Date.now() - phaseStarted;
  run.onAgentsDone?.();
  if (baseBefore) await warnOfCommitsOnBase(run, root, baseBefore, workspace, `${item.id}: the ${phase.name} agent`);
  if (workspace.kind === 'repo') await restoreOtherItemsFiles(run, deletedBefore);
  await cleanUpAfterAgents(attempt, opened);
  return { runs, phaseMs };
}

/**
 * The lenses of a fan-out that share one working tree (a `repo` phase: the user's checkout) take
 * turns: agents side by side there would edit the same files and collide on its index.lock.
 */
async function oneAfterAnother(attempt: Attempt, workspace: Workspace): Promise<LensRun[]> {
  const runs: LensRun[] = [];
  for (const lens of attempt.lenses) {
    runs.push(await runLens(attempt, workspace, lens));
    if (attempt.run.signal.aborted) break; // the stopped run says so; no lens starts after it
  }
  return runs;
}

/** The attempt's cost, tokens, time and first log, before anything says whether it succeeded. */
function agentsOutcome(attempt: Attempt, runs: LensRun[], phaseMs: number): PhaseOutcome {
  const outcome: PhaseOutcome = {
    ok: false,
    costUsd: runs.reduce((sum, r) => sum + (r.result.costUsd ?? 0), 0),
    // A program that never started cost nothing; one that ran and said nothing cost unknown.
    costUnknown: runs.some((r) => r.result.costUsd === undefined && !r.result.spawnError) || undefined,
    durationMs: phaseMs,
    agent: attempt.agentLabel,
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
  return outcome;
}

/**
 * How the agents' runs end the attempt, if they do: stopped, out of a usage limit, or failed
 * (the first failing lens is named). Throws AgentUnavailable when an agent could not start.
 */
function endedByAgents(attempt: Attempt, runs: LensRun[], outcome: PhaseOutcome): PhaseOutcome | undefined {
  const unavailable = runs.find((r) => r.result.missingProgram);
  if (unavailable)
    throw new AgentUnavailable(
      `agent ${attempt.agentName} could not start: ${unavailable.result.spawnError}`,
      `install it, fix agents.${attempt.agentName} in ORCHESTRATOR.md, or run with --agent dry-run`,
    );
  if (runs.some((r) => r.result.stopped === 'aborted')) return { ...outcome, interrupted: true };
  const limited = runs.find((r) => r.result.usageLimit);
  if (limited?.result.usageLimit) return { ...outcome, usageLimit: limited.result.usageLimit };
  const failedRun = runs
    .map((r) => ({ r, why: failureOf(r.result, r.state, `${attempt.dir}/${r.artifact}`) }))
    .find((x) => x.why);
  if (!failedRun) return undefined;
  return {
    ...outcome,
    failure: `${failedRun.r.lens ? `lens ${failedRun.r.lens}: ` : ''}${failedRun.why}`,
    logFile: failedRun.r.logFile,
    tail: failedRun.r.result.outputTail,
  };
}

/**
 * Reads the phase artifact (a fan-out's lens reviews merged into it first): its verdict and
 * triage choices go into `outcome`. Returns the failed outcome when the artifact cannot be used.
 */
async function readPhaseArtifact(
  attempt: Attempt,
  runs: LensRun[],
  outcome: PhaseOutcome,
): Promise<PhaseOutcome | undefined> {
  const { root, item, phase } = attempt.run;
  const file = `${attempt.dir}/${phase.artifact}`;
  if (phase.fanout) {
    const lensFailure = await mergeFanout(root, item, phase, runs);
    if (lensFailure) return { ...outcome, failure: lensFailure };
  }
  const artifactText = await readFile(path.join(root, attempt.dir, phase.artifact), 'utf8');
  if (phase.on_reject) {
    const read = readVerdict(artifactText);
    if ('problem' in read) return { ...outcome, failure: `${file}: ${read.problem}` };
    outcome.verdict = read.verdict;
  }
  outcome.triage = triageIn(phase, artifactText, file);
  return undefined;
}

/** Runs the phase's gate, if it has one, in the workspace; returns the failed outcome when it fails. */
async function gateFailure(
  attempt: Attempt,
  workspace: Workspace,
  outcome: PhaseOutcome,
): Promise<PhaseOutcome | undefined> {
  const { root, phase, config, signal } = attempt.run;
  if (!phase.gate) return undefined;
  const settings = config.settings;
  const gateLog = path.join(attempt.logDir, `${phase.name}.${attempt.number}.gate.log`);
  const [command = 'sh', ...args] = Array.isArray(phase.gate) ? phase.gate : ['sh', '-c', phase.gate];
  const gate = await runProcess({
    command,
    args,
    cwd: workspace.dir,
    timeoutMs: phase.timeout ?? settings.timeout,
    stallTimeoutMs: phase.timeout ?? settings.timeout,
    logFile: gateLog,
    logMaxBytes: settings.log_max_bytes,
    signal,
  });
  if (gate.stopped === 'aborted') return { ...outcome, interrupted: true };
  if (gate.exitCode === 0) return undefined;
  const gateText = Array.isArray(phase.gate) ? phase.gate.join(' ') : phase.gate;
  return {
    ...outcome,
    failure: `the gate \`${gateText}\` failed (${gate.spawnError ?? `exit ${gate.exitCode ?? gate.stopped}`})`,
    logFile: path.relative(root, gateLog),
    tail: gate.tail,
  };
}

/**
 * One attempt: set up, open the workspace, run the agents, then let the first thing that fails
 * decide the outcome: the agents' runs, the artifact, the gate.
 */
export async function runPhase(run: PhaseRun): Promise<PhaseOutcome> {
  const attempt = await setUpAttempt(run);
  const opened = await openWorkspace(attempt);
  if ('failed' in opened) return opened.failed;
  const { runs, phaseMs } = await runAgents(attempt, opened);
  const outcome = agentsOutcome(attempt, runs, phaseMs);
  return (
    endedByAgents(attempt, runs, outcome) ??
    (await readPhaseArtifact(attempt, runs, outcome)) ??
    (await gateFailure(attempt, opened.workspace, outcome)) ?? { ...outcome, ok: true }
  );
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
