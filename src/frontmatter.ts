// Frontmatter that round-trips byte for byte. gray-matter normalises delimiters and line ends
// and re-stringifying YAML reformats the whole block (PITFALLS.md), so this module splits the
// text itself and edits a key by splicing new text at the position the `yaml` parser reports:
// changing one key rewrites one line, and comments, quoting and key order stay as written.
import { isCollection, isMap, isScalar, LineCounter, parseDocument, stringify, type Document } from 'yaml';

export interface Frontmatter {
  /** The file began with a UTF-8 byte order mark (kept on write). */
  bom: boolean;
  /** Whether the file had a frontmatter block at all. */
  present: boolean;
  /** Opening delimiter line, e.g. `---\n`; empty when absent. */
  open: string;
  /** The YAML text between the delimiters, exactly as written. */
  yaml: string;
  /** Closing delimiter line, e.g. `---\r\n`; empty when absent. */
  close: string;
  /** Everything after the closing delimiter, byte for byte. */
  body: string;
  /** Line ending used by the file; new lines are written with it. */
  eol: '\n' | '\r\n';
}

export interface YamlProblem {
  line: number;
  /** The top-level key at fault, when the YAML error is about one (a duplicate key). */
  key?: string;
  message: string;
}

const OPEN = /^---[ \t]*(\r?\n)/;
const CLOSE = /^(?:---|\.\.\.)[ \t]*(?:\r?\n|$)/m;

/** Split a Markdown file into frontmatter and body. Returns a problem for an unclosed block. */
export function splitFrontmatter(text: string): { value: Frontmatter } | { problem: YamlProblem } {
  const bom = text.startsWith('\uFEFF');
  const rest = bom ? text.slice(1) : text;
  const open = OPEN.exec(rest);
  // New frontmatter lines follow the block's own line ending, not a CRLF pasted into the body.
  const eol: Frontmatter['eol'] = (open ? open[0] : rest.slice(0, 4096)).includes('\r\n') ? '\r\n' : '\n';
  if (!open) return { value: { bom, present: false, open: '', yaml: '', close: '', body: rest, eol } };
  const afterOpen = rest.slice(open[0].length);
  // The block may be empty: the closing line can follow the opening line directly.
  const close = CLOSE.exec(afterOpen);
  if (!close) {
    return {
      problem: {
        line: 1,
        message: 'frontmatter opened with `---` on line 1 is never closed; add a `---` line after the last key',
      },
    };
  }
  return {
    value: {
      bom,
      present: true,
      open: open[0],
      yaml: afterOpen.slice(0, close.index),
      close: close[0],
      body: afterOpen.slice(close.index + close[0].length),
      eol,
    },
  };
}

export function joinFrontmatter(fm: Frontmatter): string {
  return (fm.bom ? '\uFEFF' : '') + fm.open + fm.yaml + fm.close + fm.body;
}

export interface ParsedYaml {
  data: Record<string, unknown>;
  /** 1-based line (in the whole file) of each top-level key. */
  keyLines: Map<string, number>;
  problems: YamlProblem[];
}

/** Parse the YAML block. Lines are reported in file coordinates (the `---` line is line 1). */
export function readYaml(fm: Frontmatter): ParsedYaml {
  const keyLines = new Map<string, number>();
  if (!fm.present || fm.yaml.trim() === '') return { data: {}, keyLines, problems: [] };
  const lineCounter = new LineCounter();
  const doc = parseDocument(fm.yaml, { lineCounter, prettyErrors: true, uniqueKeys: true });
  const problems: YamlProblem[] = doc.errors.map((e) => {
    // The parser's own "at line N, column M:" counts from the YAML block, not the file: drop it.
    const problem: YamlProblem = {
      line: (e.linePos?.[0].line ?? 0) + 1,
      message: `invalid YAML: ${e.message.split('\n')[0]?.replace(/ at line \d+, column \d+:?$/, '')}`,
    };
    if (e.code === 'DUPLICATE_KEY' && isMap(doc.contents)) {
      const dup = doc.contents.items.find((p) => isScalar(p.key) && p.key.range?.[0] === e.pos[0]);
      if (dup && isScalar(dup.key)) {
        problem.key = String(dup.key.value);
        problem.message = `the key ${problem.key} appears more than once; keep one of its lines`;
      }
    }
    return problem;
  });
  if (problems.length > 0) return { data: {}, keyLines, problems };
  // Only comments between the delimiters: as empty as `---\n---\n`.
  if (doc.contents === null) return { data: {}, keyLines, problems };
  if (!isMap(doc.contents)) {
    return { data: {}, keyLines, problems: [{ line: 2, message: 'frontmatter must be a list of `key: value` lines' }] };
  }
  for (const pair of doc.contents.items) {
    if (isScalar(pair.key) && pair.key.range) {
      keyLines.set(String(pair.key.value), lineCounter.linePos(pair.key.range[0]).line + 1);
    }
  }
  const data = doc.toJS({ maxAliasCount: 100 }) as Record<string, unknown>;
  return { data: data ?? {}, keyLines, problems };
}

/** YAML text for one value, on one line so a change is a one-line diff: `[a, b]`, `{ a: 1 }`. */
function yamlValue(value: unknown): string {
  if (typeof value === 'string' && /[\r\n]/.test(value)) return JSON.stringify(value);
  return stringify(value, { flowCollectionPadding: false, lineWidth: 0, collectionStyle: 'flow' }).trimEnd();
}

function topLevelPair(doc: Document, key: string) {
  if (!isMap(doc.contents)) return undefined;
  return doc.contents.items.find((p) => isScalar(p.key) && String(p.key.value) === key);
}

/**
 * Set (or, with `undefined`, remove) top-level keys, touching only their lines. Pure: returns a
 * new Frontmatter. New keys are appended in the order given.
 */
export function setFields(fm: Frontmatter, changes: Record<string, unknown>): Frontmatter {
  let yaml = fm.yaml;
  for (const [key, value] of Object.entries(changes)) {
    yaml = setOne(yaml, key, value, fm.eol);
  }
  if (fm.present) return { ...fm, yaml };
  const open = `---${fm.eol}`;
  return { ...fm, present: true, open, yaml, close: `---${fm.eol}` };
}

function setOne(yaml: string, key: string, value: unknown, eol: string): string {
  const doc = parseDocument(yaml, { keepSourceTokens: false });
  if (doc.errors.length > 0) throw new Error(`cannot edit invalid frontmatter: ${doc.errors[0]?.message}`);
  const pair = topLevelPair(doc, key);
  const withEol = (s: string) => s.replace(/\r?\n/g, eol);
  if (!pair) {
    if (value === undefined) return yaml;
    const sep = yaml === '' || yaml.endsWith('\n') ? '' : eol;
    return `${yaml}${sep}${key}: ${withEol(yamlValue(value))}${eol}`;
  }
  const keyNode = pair.key as { range?: [number, number, number] };
  const valueNode = pair.value as { range?: [number, number, number] } | null;
  if (value === undefined) {
    const start = yaml.lastIndexOf('\n', (keyNode.range?.[0] ?? 0) - 1) + 1;
    const endOfValue = valueNode?.range?.[1] ?? keyNode.range?.[1] ?? start;
    const nextLine = yaml.indexOf('\n', Math.max(endOfValue - 1, start));
    return yaml.slice(0, start) + (nextLine === -1 ? '' : yaml.slice(nextLine + 1));
  }
  const rendered = withEol(yamlValue(value));
  if (valueNode?.range && !(isCollection(valueNode) && !valueNode.flow)) {
    const [start, end] = valueNode.range;
    // Block scalars own their final newline; an empty value starts right after the colon, or
    // right at a comment (`pipeline: # triage picks`), which must stay apart from the value.
    const keepEol = /\r?\n$/.exec(yaml.slice(start, end))?.[0] ?? '';
    const lead = yaml[start - 1] === ':' ? ' ' : '';
    const trail = start === end && yaml[end] === '#' ? ' ' : '';
    return yaml.slice(0, start) + lead + rendered + trail + keepEol + yaml.slice(end);
  }
  // A block list or map: replace from after `key:` to its end.
  const colon = yaml.indexOf(':', keyNode.range?.[1] ?? 0);
  const end = valueNode?.range?.[1] ?? colon + 1;
  const keepEol = /\r?\n$/.exec(yaml.slice(colon, end))?.[0] ?? '';
  return `${yaml.slice(0, colon + 1)} ${rendered}${keepEol}${yaml.slice(end)}`;
}
