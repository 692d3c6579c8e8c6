import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';

/** One relative link of a Markdown file. */
export interface MarkdownLink {
  /** 1-based line of the link. */
  readonly line: number;
  /** The target as written, such as `docs/approvals.md#from-the-terminal` or `#quick-start`. */
  readonly target: string;
}

/** The lines of a Markdown text outside fenced code blocks, with their 1-based numbers. */
function proseLines(markdown: string): { line: number; text: string }[] {
  const out: { line: number; text: string }[] = [];
  let fence: string | undefined;
  markdown.split('\n').forEach((text, i) => {
    const m = /^\s{0,3}(`{3,}|~{3,})/.exec(text);
    if (m?.[1]) {
      if (fence === undefined) fence = m[1][0];
      else if (m[1][0] === fence) fence = undefined;
      return;
    }
    if (fence === undefined) out.push({ line: i + 1, text });
  });
  return out;
}

/**
 * The anchor GitHub gives a heading: the rendered text lower-cased, everything but letters,
 * digits, `-`, `_` and spaces removed, spaces turned into `-` (as github-slugger does).
 */
export function githubSlug(heading: string): string {
  const rendered = heading
    .replace(/!?\[([^\]]*)\]\([^)]*\)/g, '$1')
    .replace(/<[^>]+>/g, '')
    .trim()
    .toLowerCase();
  return rendered.replace(/[^\p{L}\p{M}\p{N}\p{Pc}\- ]/gu, '').replace(/ /g, '-');
}

/** Every anchor the headings of a Markdown text get on GitHub; repeated ones get `-1`, `-2`, .... */
export function headingAnchors(markdown: string): Set<string> {
  const anchors = new Set<string>();
  const seen = new Map<string, number>();
  for (const { text } of proseLines(markdown)) {
    const m = /^\s{0,3}#{1,6}\s+(.*?)\s*#*\s*$/.exec(text);
    if (!m?.[1]) continue;
    const slug = githubSlug(m[1]);
    const count = seen.get(slug) ?? 0;
    seen.set(slug, count + 1);
    anchors.add(count === 0 ? slug : `${slug}-${count}`);
  }
  return anchors;
}

/** The links and images of a Markdown text that point inside the repository (no scheme). */
export function relativeLinks(markdown: string): MarkdownLink[] {
  const links: MarkdownLink[] = [];
  for (const { line, text } of proseLines(markdown)) {
    // Code spans are text, not links; their content stays out of the link text.
    const prose = text.replace(/`[^`]*`/g, 'code');
    for (const m of prose.matchAll(/!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)) {
      const target = m[1]!;
      if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue;
      links.push({ line, target });
    }
  }
  return links;
}

/**
 * What is wrong with each relative link of one Markdown file: a target file that does not
 * exist, or an anchor that no heading of the target Markdown file has. Empty when all resolve.
 */
export function brokenLinks(file: string): string[] {
  const markdown = readFileSync(file, 'utf8');
  const problems: string[] = [];
  const anchorsOf = new Map<string, Set<string>>();
  const anchors = (path: string) => {
    let set = anchorsOf.get(path);
    if (!set) {
      set = headingAnchors(readFileSync(path, 'utf8'));
      anchorsOf.set(path, set);
    }
    return set;
  };
  for (const { line, target } of relativeLinks(markdown)) {
    const hash = target.indexOf('#');
    const pathPart = decodeURIComponent(hash === -1 ? target : target.slice(0, hash));
    const anchor = hash === -1 ? undefined : decodeURIComponent(target.slice(hash + 1));
    const where = `${file}:${line}: ${target}`;
    const resolved = pathPart === '' ? file : resolve(dirname(file), pathPart);
    if (!existsSync(resolved)) {
      problems.push(`${where}: no file ${pathPart}`);
      continue;
    }
    if (anchor === undefined) continue;
    if (!resolved.endsWith('.md') || !statSync(resolved).isFile()) {
      problems.push(`${where}: an anchor can only be checked in a Markdown file`);
      continue;
    }
    if (!anchors(resolved).has(anchor)) {
      problems.push(`${where}: no heading with anchor #${anchor} in ${pathPart || 'this file'}`);
    }
  }
  return problems;
}
