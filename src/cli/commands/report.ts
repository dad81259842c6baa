// `tend report`: the night in one document, from git history and the item files alone. Markdown
// for a pager or GitHub, one HTML file, or the model itself as JSON.
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { buildReport } from '../../core/report.js';
import { reportMarkdown } from '../../core/report-md.js';
import { TendError } from '../../core/problem.js';
import { reportSources } from '../../edges/report-sources.js';

export const REPORT_FORMATS = ['md', 'json', 'html'] as const;
export type ReportFormat = (typeof REPORT_FORMATS)[number];

export interface ReportOptions {
  since: string;
  until?: string;
  format: ReportFormat;
  /** Write here instead of standard output. */
  out?: string;
}

export async function report(cwd: string, options: ReportOptions): Promise<void> {
  const { input, root } = await reportSources(cwd, { since: options.since, until: options.until });
  const model = buildReport(input);
  const out = options.out === undefined ? undefined : path.resolve(cwd, options.out);
  // Links to artifacts are relative to the repository root; from a report written elsewhere, to there.
  const fromOut = out === undefined ? path.relative(cwd, root) : path.relative(path.dirname(out), root);
  const linkPrefix = fromOut === '' ? '' : `${fromOut.split(path.sep).join('/')}/`;
  let text: string;
  if (options.format === 'json') text = `${JSON.stringify(model, null, 2)}\n`;
  else {
    const markdown = reportMarkdown(model, { linkPrefix });
    // remark and its plugins are loaded only for HTML: Markdown and JSON need none of them.
    const html = options.format === 'html' ? await import('../../core/report-html.js') : undefined;
    text = html ? html.reportHtml(markdown, `tend report: ${options.since}`) : markdown;
  }
  if (out === undefined) {
    process.stdout.write(text);
    return;
  }
  try {
    await mkdir(path.dirname(out), { recursive: true });
    await writeFile(out, text);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? String(err);
    throw new TendError(`cannot write ${options.out}: ${code}`, 'choose another --out path', { cause: err });
  }
  process.stdout.write(`wrote ${path.relative(cwd, out) || out}\n`);
}
