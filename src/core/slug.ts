// Ids are lowercase ASCII slugs: safe as folder names, branch names and command arguments on
// every platform, and impossible to use for escaping backlog/.

export const ID_PATTERN = /^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$/;
const MAX_SLUG = 60;

export function isValidId(id: string): boolean {
  return ID_PATTERN.test(id);
}

/** "Fix Login on Safari!" -> "fix-login-on-safari"; "Café crème" -> "cafe-creme". May return "". */
export function slugify(text: string): string {
  const ascii = text
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '');
  if (ascii.length <= MAX_SLUG) return ascii;
  // One character more: a dash right after the limit means the last word fits whole.
  const cut = ascii.slice(0, MAX_SLUG + 1);
  const lastDash = cut.lastIndexOf('-');
  return (lastDash > 20 ? cut.slice(0, lastDash) : cut.slice(0, MAX_SLUG)).replace(/-+$/, '');
}

/** The first of `base`, `base-2`, `base-3`, ... that `taken` does not hold. */
export function uniqueId(base: string, taken: (id: string) => boolean): string {
  if (!taken(base)) return base;
  for (let n = 2; ; n++) {
    const candidate = `${base.slice(0, MAX_SLUG)}-${n}`;
    if (!taken(candidate)) return candidate;
  }
}
