/** Reads the fenced shell blocks of a Markdown file and the command lines inside them. */

export interface FencedBlock {
  /** The info string after the opening fence (`bash`, `json`, empty…). */
  lang: string;
  /** 1-based line of the opening fence. */
  line: number;
  body: string;
}

export interface CommandLine {
  /** 1-based line in the Markdown file. */
  line: number;
  /** One command of the line (lines are split at `;`, `&&`, `||` and a trailing `&`), comment removed. */
  command: string;
}

export interface HereDocument {
  /** The file the here-document is written to (`cat > FILE <<'EOF'`). */
  file: string;
  body: string;
}

export function fencedBlocks(markdown: string): FencedBlock[] {
  const blocks: FencedBlock[] = [];
  const lines = markdown.split('\n');
  let open: { lang: string; line: number; body: string[] } | null = null;
  lines.forEach((text, i) => {
    const fence = /^```(\S*)\s*$/.exec(text);
    if (!open && fence) open = { lang: fence[1], line: i + 1, body: [] };
    else if (open && /^```\s*$/.test(text)) {
      blocks.push({ lang: open.lang, line: open.line, body: open.body.join('\n') });
      open = null;
    } else if (open) open.body.push(text);
  });
  return blocks;
}

/** Removes quoted strings, so a `#`, `|` or `;` inside them is not taken for shell syntax. */
function unquoted(text: string): string {
  return text.replace(/'[^']*'/g, "''").replace(/"(?:[^"\\]|\\.)*"/g, '""');
}

/** The text before an unquoted ` #` comment. */
function withoutComment(text: string): string {
  const bare = unquoted(text);
  const at = bare.search(/(^|\s)#/);
  if (at < 0) return text;
  // Quoted strings were shortened: find the same comment start in the original by counting from the end.
  const commentLength = bare.length - at;
  return text.slice(0, text.length - commentLength);
}

function splitCommands(text: string): string[] {
  const parts: string[] = [];
  let current = '';
  let quote: string | null = null;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quote) {
      current += c;
      if (c === quote) quote = null;
    } else if (c === "'" || c === '"') {
      quote = c;
      current += c;
    } else if (text.startsWith('&&', i) || text.startsWith('||', i)) {
      parts.push(current);
      current = '';
      i++;
    } else if (c === ';' || (c === '&' && text.slice(i + 1).trim() === '')) {
      parts.push(current);
      current = '';
    } else current += c;
  }
  parts.push(current);
  return parts.map((p) => p.trim()).filter((p) => p !== '');
}

/** The commands of a shell block, here-document bodies left out; `blockLine` is the fence's line. */
export function commandLines(block: FencedBlock): CommandLine[] {
  const commands: CommandLine[] = [];
  const lines = block.body.split('\n');
  let hereEnd: string | null = null;
  lines.forEach((text, i) => {
    const line = block.line + 1 + i;
    if (hereEnd !== null) {
      if (text.trim() === hereEnd) hereEnd = null;
      return;
    }
    const here = /<<-?\s*'?"?(\w+)'?"?/.exec(text);
    if (here) hereEnd = here[1];
    for (const command of splitCommands(withoutComment(text))) commands.push({ line, command });
  });
  return commands;
}

/** The here-documents of a shell block written with `cat > FILE <<'EOF'`. */
export function hereDocuments(block: FencedBlock): HereDocument[] {
  const documents: HereDocument[] = [];
  const pattern = /^cat\s+>\s*(\S+)\s+<<-?\s*'?"?(\w+)'?"?\s*$/gm;
  for (const match of block.body.matchAll(pattern)) {
    const start = (match.index ?? 0) + match[0].length + 1;
    const end = block.body.indexOf(`\n${match[2]}\n`, start - 1);
    const stop = end < 0 ? block.body.lastIndexOf(`\n${match[2]}`) : end;
    documents.push({ file: match[1], body: block.body.slice(start, stop + 1) });
  }
  return documents;
}

/** The shell syntax a pasted command must not contain: `[--opt]` brackets, `a|b` alternatives. */
export function notationProblems(command: string): string[] {
  const bare = unquoted(command);
  const problems: string[] = [];
  if (bare.includes('[--') || /\[[A-Z]/.test(bare)) problems.push('optional-argument brackets');
  if (/[\w-]\|[\w-]/.test(bare)) problems.push('an a|b alternative');
  if (/\.\.\.|…/.test(bare)) problems.push('an ellipsis');
  return problems;
}
