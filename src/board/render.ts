// Markdown from items and artifacts as HTML for the board's pages. The text is untrusted (agents
// wrote it, and imported issues will): remark-rehype drops raw HTML, and rehype-sanitize keeps
// only GitHub's safe subset, so no script, event handler or javascript: link reaches the page.
import rehypeSanitize from 'rehype-sanitize';
import rehypeStringify from 'rehype-stringify';
import { remark } from 'remark';
import remarkGfm from 'remark-gfm';
import remarkRehype from 'remark-rehype';

const processor = remark().use(remarkGfm).use(remarkRehype).use(rehypeSanitize).use(rehypeStringify).freeze();

/** Markdown `text` as sanitized HTML (GFM: tables, task lists, strikethrough, fenced code). */
export async function renderMarkdown(text: string): Promise<string> {
  return String(await processor.process(text));
}

/** Text for an HTML element or attribute value. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
