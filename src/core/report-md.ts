// The report as Markdown: GitHub renders it (tables, headings, links) and it reads in a pager
// as it is, so what repeats per item is short lines and lists rather than wide tables.
import { formatDuration } from './duration.js';
import { formatMoney, type Attention, type Finished, type MoneyLine, type PhaseTime, type Report } from './report.js';

export interface MarkdownOptions {
  /** Put before every artifact path, so links work from where the report is written (`../`). */
  linkPrefix?: string;
}

/** Text a person or an agent wrote, safe inside Markdown: no markup, link or HTML of its own. */
export function escapeMd(text: string): string {
  // Backticks and underscores are left: code spans read well in a pager and on GitHub alike.
  return text.replace(/[\\*[\]<>|]/g, '\\$&').replace(/\s+/g, ' ');
}

function code(text: string): string {
  const clean = text.replace(/[\r\n]+/g, ' ');
  return clean.includes('`') ? `\`\` ${clean} \`\`` : `\`${clean}\``;
}

/** A commit time as UTC, to the minute: `2026-12-01 06:00 UTC`. */
export function utc(iso: string | null): string {
  if (iso === null) return '-';
  const ms = Date.parse(iso);
  return Number.isNaN(ms) ? iso : `${new Date(ms).toISOString().slice(0, 16).replace('T', ' ')} UTC`;
}

export function seconds(s: number): string {
  return s < 1 ? '0s' : formatDuration(s * 1000);
}

function tableMd(header: string[], rows: string[][]): string[] {
  return [
    `| ${header.join(' | ')} |`,
    `| ${header.map(() => '---').join(' | ')} |`,
    ...rows.map((r) => `| ${r.join(' | ')} |`),
  ];
}

function link(path: string, prefix: string): string {
  const name = path.split('/').at(-1) ?? path;
  return `[${escapeMd(name)}](${encodeURI(prefix + path)})`;
}

export function reportMarkdown(report: Report, options: MarkdownOptions = {}): string {
  const prefix = options.linkPrefix ?? '';
  const until = report.window.until ?? 'now';
  const out = [`# tend report: ${escapeMd(report.window.since)} to ${escapeMd(until)}`, ''];
  if (report.transitions === 0) out.push('Nothing happened in this window: no transition was committed.', '');
  else {
    const span = `${utc(report.window.first)} to ${utc(report.window.last)}`;
    out.push(`${report.transitions} transitions, ${span}; total cost ${formatMoney(report.money.total)}.`, '');
  }
  out.push(...attentionMd(report.attention));
  out.push(...finishedMd(report.finished, prefix));
  out.push(...troubleMd(report));
  out.push(...timeMd(report));
  out.push(...moneyMd(report));
  return `${wrapLines(out).join('\n').trimEnd()}\n`;
}

/** Where prose and list lines are broken, so the report reads in a pager without a wide terminal. */
export const WRAP_COLUMNS = 100;

// A word, with any code span in it kept whole (a code span may hold spaces); a lone backtick too.
const WORD = /(?:`[^`\n]*`|[^\s`]|`)+/g;

/**
 * Prose and list lines broken at spaces to WRAP_COLUMNS (Markdown joins them again when it
 * renders); a list item's continuation is indented under it. Tables and headings are left whole.
 */
export function wrapLines(lines: string[]): string[] {
  return lines.flatMap((line) => {
    if (line.length <= WRAP_COLUMNS || /^\s*(\||#)/.test(line)) return [line];
    const indent = /^(- | {2})/.test(line) ? '  ' : '';
    const lead = /^\s*/.exec(line)?.[0] ?? '';
    const words = line.trim().match(WORD) ?? [];
    const out: string[] = [];
    let current = lead + (words.shift() ?? '');
    for (const word of words) {
      if (current.length + 1 + word.length > WRAP_COLUMNS) {
        out.push(current);
        current = indent + word;
      } else current += ` ${word}`;
    }
    out.push(current);
    return out;
  });
}

const KIND_LABEL: Record<Attention['kind'], string> = {
  approval: 'waits for approval',
  rejection: 'rejected, waits for an answer',
  blocked: 'blocked',
};

function attentionMd(items: Attention[]): string[] {
  const out = [`## Waiting for you (${items.length})`, ''];
  if (items.length === 0) return [...out, 'Nothing waits for a person.', ''];
  for (const a of items) {
    const where = a.phase ? ` in ${escapeMd(a.phase)}` : '';
    out.push(`- **${escapeMd(a.title)}** (${code(a.id)}) ${KIND_LABEL[a.kind]}${where}: ${escapeMd(a.reason)}`);
    out.push(`  run ${a.commands.map(code).join(' or ')}`);
  }
  return [...out, ''];
}

function finishedMd(items: Finished[], prefix: string): string[] {
  const out = [`## Finished (${items.length})`, ''];
  if (items.length === 0) return [...out, 'Nothing was finished in this window.', ''];
  for (const f of items) out.push(...oneFinished(f, prefix), '');
  return out;
}

/** The change's size, as `git diff --shortstat` counts it. */
export function changeText(f: Finished): string {
  if (!f.change) return 'size of change unknown (no branch or merge commit found)';
  const { files, insertions, deletions, of } = f.change;
  return `${files} file${files === 1 ? '' : 's'} changed, +${insertions} -${deletions} (${code(of)})`;
}

/** One finished item: what was asked, what was built, the review, where to look, what it cost. */
export function oneFinished(f: Finished, prefix: string, heading = '###'): string[] {
  const out = [`${heading} ${escapeMd(f.title)} (${code(f.id)})`, ''];
  out.push(`**Asked:** ${f.asked ? escapeMd(f.asked) : '(the item has no text)'}`, '');
  out.push(`**Built:** ${f.built ? escapeMd(f.built) : '(no build or spec artifact)'}`, '');
  if (f.review) {
    out.push(`**Review:** ${escapeMd(f.review.verdict)} (${link(f.review.file, prefix)})`, '');
    if (f.review.lenses.length > 0) {
      const rows = f.review.lenses.map((l) => [escapeMd(l.lens), escapeMd(l.verdict), escapeMd(l.summary)]);
      out.push(...tableMd(['lens', 'verdict', 'summary'], rows), '');
    }
  } else out.push('**Review:** none', '');
  const where = f.pr
    ? `pull request ${f.pr}`
    : f.branch
      ? `branch ${code(f.branch)}`
      : 'no branch kept (its work has landed, or it was built in the checkout)';
  out.push(`- review it: ${where}`);
  out.push(`- change: ${changeText(f)}`);
  out.push(`- finished ${utc(f.time)}, cost ${formatMoney(f.cost)}`);
  // Each lens's own review is counted rather than listed: nine links say little more than one.
  const lensFiles = new Set(f.review?.lenses.map((l) => l.file));
  const artifacts = f.artifacts.filter((a) => !lensFiles.has(a));
  const lenses = f.artifacts.length - artifacts.length;
  const more = lenses > 0 ? ` (and ${lenses} lens review${lenses === 1 ? '' : 's'} beside review.md)` : '';
  if (artifacts.length > 0) out.push(`- artifacts: ${artifacts.map((a) => link(a, prefix)).join(', ')}${more}`);
  return out;
}

function troubleMd(report: Report): string[] {
  const { failures, retried, reviewLoops, parked } = report.trouble;
  const out = ['## Failed, retried, sent back, parked', ''];
  if (failures.length + retried.length + reviewLoops.length + parked.length === 0) {
    return [...out, 'No failure, retry, review loop or usage-limit wait.', ''];
  }
  if (failures.length > 0) {
    const rows = failures.map((f) => [
      utc(f.time),
      code(f.id),
      escapeMd(f.phase ?? '-'),
      f.outcome,
      f.attempt === null ? '-' : String(f.attempt),
      escapeMd(f.reason || '-'),
    ]);
    out.push('Failures:', '', ...tableMd(['time', 'item', 'phase', 'outcome', 'attempt', 'reason'], rows), '');
  }
  for (const r of retried) {
    const now = r.latest === 'done' ? 'then passed' : `now ${r.latest}`;
    out.push(`- retried: ${code(r.id)} ${escapeMd(r.phase)} failed ${times(r.failed)}, ${now}`);
  }
  for (const l of reviewLoops) {
    const round = l.round === null ? '' : `, round ${l.round}`;
    const who = l.by === 'person' ? 'a person' : escapeMd(l.phase ?? 'a review');
    const why = l.reason ? `: ${escapeMd(l.reason)}` : '';
    out.push(`- sent back: ${code(l.id)} by ${who} to ${escapeMd(l.backTo ?? '?')}${round}${why}`);
  }
  for (const p of parked) {
    const until = p.until ? ` until ${utc(p.until)}` : '';
    out.push(`- parked: ${code(p.id)} in ${escapeMd(p.phase ?? '?')}${until}: ${escapeMd(p.reason || 'usage limit')}`);
  }
  return [...out, ''];
}

function times(n: number): string {
  return n === 1 ? 'once' : n === 2 ? 'twice' : `${n} times`;
}

function timeMd(report: Report): string[] {
  const t = report.time;
  const out = ['## Time', ''];
  if (t.phases.length === 0) return [...out, 'No agent ran in this window.', ''];
  const rows = t.phases.map((p: PhaseTime) => [
    escapeMd(p.phase),
    String(p.runs),
    seconds(p.medianSeconds),
    `${seconds(p.longestSeconds)} (${code(p.longestItem)})`,
  ]);
  out.push(...tableMd(['phase', 'runs', 'median', 'longest'], rows), '');
  out.push(`- makespan (first to last transition): ${seconds(t.makespanSeconds)}`);
  out.push(`- agents busy: ${seconds(t.busySeconds)} in all`);
  if (t.busyShare !== null && t.concurrency !== null) {
    const share = `${Math.round(t.busyShare * 1000) / 10}%`;
    out.push(`- agent slots busy: ${share} (busy / (makespan × concurrency ${t.concurrency}))`);
  } else {
    const why = t.concurrency === null ? 'the concurrency is unknown' : 'the makespan is zero';
    out.push(`- agent slots busy: not known (${why})`);
  }
  return [...out, ''];
}

function moneyMd(report: Report): string[] {
  const m = report.money;
  const out = ['## Money', '', `Total: ${formatMoney(m.total)} over ${m.total.runs} agent runs.`, ''];
  if (m.total.runs === 0) return out;
  const section = (title: string, lines: MoneyLine[], escape: (s: string) => string) => [
    ...tableMd(
      [title, 'cost', 'runs'],
      lines.map((l) => [escape(l.key), formatMoney(l), String(l.runs)]),
    ),
    '',
  ];
  out.push(...section('item', m.items, code), ...section('phase', m.phases, escapeMd));
  out.push(...section('agent (model)', m.agents, escapeMd));
  return out;
}
