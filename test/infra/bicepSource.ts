import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Just enough of Bicep's syntax to check templates without the Bicep compiler (which cannot be installed
 * on the build machines): comments, strings with ${…} interpolation, and bracket nesting.
 */

export interface BicepParam {
  name: string;
  type: string;
  hasDefault: boolean;
  decorators: string[];
  line: number;
}

export interface BicepResource {
  symbol: string;
  type: string;
  apiVersion: string;
  existing: boolean;
  decorators: string[];
  body: string;
}

export interface BicepModule {
  symbol: string;
  path: string;
  body: string;
  /** Top-level keys of its `params: { … }` block. */
  params: string[];
}

export function bicepFilesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = join(dir, entry.name);
    if (entry.isDirectory()) return bicepFilesUnder(full);
    return entry.name.endsWith('.bicep') ? [full] : [];
  });
}

export function readBicep(file: string): string {
  return stripComments(readFileSync(file, 'utf8'));
}

const OPEN = '{[(';
const CLOSE = '}])';

/** Walks Bicep text, calling `visit` for every character outside strings with the bracket depth before it. */
function walkCode(text: string, visit: (char: string, index: number, depth: number) => boolean | void): void {
  let depth = 0;
  // Each frame: inside a string, or inside a ${…} interpolation (which nests code within a string).
  const frames: Array<'string' | 'interpolation'> = [];
  const interpolationDepths: number[] = [];
  for (let i = 0; i < text.length; i++) {
    const char = text[i];
    const inString = frames[frames.length - 1] === 'string';
    if (inString) {
      if (char === '\\') {
        i++;
      } else if (char === "'") {
        frames.pop();
      } else if (char === '$' && text[i + 1] === '{') {
        frames.push('interpolation');
        interpolationDepths.push(depth);
        depth++;
        i++;
      }
      continue;
    }
    if (char === "'") {
      frames.push('string');
      continue;
    }
    if (CLOSE.includes(char)) {
      depth--;
      if (
        frames[frames.length - 1] === 'interpolation' &&
        depth === interpolationDepths[interpolationDepths.length - 1]
      ) {
        frames.pop();
        interpolationDepths.pop();
        continue;
      }
    }
    if (visit(char, i, depth) === true) return;
    if (OPEN.includes(char)) depth++;
  }
}

export function stripComments(text: string): string {
  let out = '';
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const char = text[i];
    if (inString) {
      out += char;
      if (char === '\\') {
        out += text[++i] ?? '';
      } else if (char === "'") {
        inString = false;
      }
      continue;
    }
    if (char === "'") {
      inString = true;
      out += char;
    } else if (char === '/' && text[i + 1] === '/') {
      while (i < text.length && text[i] !== '\n') i++;
      out += '\n';
    } else if (char === '/' && text[i + 1] === '*') {
      i = text.indexOf('*/', i + 2) + 1;
    } else {
      out += char;
    }
  }
  return out;
}

/** Index of the bracket closing the one at `openIndex`. */
export function matchingClose(text: string, openIndex: number): number {
  let result = -1;
  const startDepth = { value: -1 };
  walkCode(text, (char, index, depth) => {
    if (index === openIndex) startDepth.value = depth;
    // A closing bracket is visited with the depth already decremented, i.e. its opener's depth.
    else if (startDepth.value >= 0 && CLOSE.includes(char) && depth === startDepth.value) {
      result = index;
      return true;
    }
  });
  if (result === -1) throw new Error(`unbalanced bracket at ${openIndex}`);
  return result;
}

/** Keys at the top level of an object literal's body (the text between its braces). */
export function topLevelKeys(objectBody: string): string[] {
  const keys: string[] = [];
  let lineStart = 0;
  let lineDepth = 0;
  const consider = (start: number, depth: number) => {
    if (depth !== 0) return;
    const line = objectBody.slice(
      start,
      objectBody.indexOf('\n', start) === -1 ? undefined : objectBody.indexOf('\n', start),
    );
    const match = /^\s*(?:'([^']+)'|([A-Za-z_][\w]*))\s*:/.exec(line);
    if (match) keys.push(match[1] ?? match[2]);
  };
  walkCode(objectBody, (char, index, depth) => {
    if (char === '\n') {
      consider(lineStart, lineDepth);
      lineStart = index + 1;
      lineDepth = depth;
    }
  });
  consider(lineStart, lineDepth);
  return keys;
}

function decoratorsBefore(text: string, index: number): string[] {
  const lines = text.slice(0, index).split('\n');
  lines.pop(); // the declaration's own line
  const decorators: string[] = [];
  while (lines.length > 0 && lines[lines.length - 1].trim().startsWith('@')) {
    decorators.unshift(lines.pop()!.trim());
  }
  return decorators;
}

/**
 * Index of the `{` opening a declaration's body, after `= `, past any `if (…)` condition; inside a
 * `[for … : {` loop the body sits one bracket deeper.
 */
function bodyStart(text: string, from: number): number {
  const rest = text.slice(from);
  const isLoop = /^\s*(existing\s*)?=\s*\[\s*for\b/.test(rest);
  let found = -1;
  walkCode(rest, (char, index, depth) => {
    if (char === '{' && depth === (isLoop ? 1 : 0)) {
      found = index;
      return true;
    }
  });
  if (found === -1) throw new Error(`no body after ${from}`);
  return from + found;
}

export function params(text: string): BicepParam[] {
  const result: BicepParam[] = [];
  const pattern = /^param\s+(\w+)\s+(\w+)(\s*=)?/gm;
  for (let m = pattern.exec(text); m !== null; m = pattern.exec(text)) {
    result.push({
      name: m[1],
      type: m[2],
      hasDefault: m[3] !== undefined,
      decorators: decoratorsBefore(text, m.index + 1),
      line: text.slice(0, m.index).split('\n').length,
    });
  }
  return result;
}

export function resources(text: string): BicepResource[] {
  const result: BicepResource[] = [];
  const pattern = /^resource\s+(\w+)\s+'([^'@]+)@([^']+)'(\s+existing)?/gm;
  for (let m = pattern.exec(text); m !== null; m = pattern.exec(text)) {
    const open = bodyStart(text, m.index + m[0].length);
    const close = matchingClose(text, open);
    result.push({
      symbol: m[1],
      type: m[2],
      apiVersion: m[3],
      existing: m[4] !== undefined,
      decorators: decoratorsBefore(text, m.index + 1),
      body: text.slice(open + 1, close),
    });
  }
  return result;
}

export function modules(text: string): BicepModule[] {
  const result: BicepModule[] = [];
  const pattern = /^module\s+(\w+)\s+'([^']+)'/gm;
  for (let m = pattern.exec(text); m !== null; m = pattern.exec(text)) {
    const open = bodyStart(text, m.index + m[0].length);
    const close = matchingClose(text, open);
    const body = text.slice(open + 1, close);
    const paramsMatch = /^\s*params\s*:\s*\{/m.exec(body);
    let keys: string[] = [];
    if (paramsMatch) {
      const paramsOpen = paramsMatch.index + paramsMatch[0].length - 1;
      keys = topLevelKeys(body.slice(paramsOpen + 1, matchingClose(body, paramsOpen)));
    }
    result.push({ symbol: m[1], path: m[2], body, params: keys });
  }
  return result;
}

/** Every `'Type@version'` reference in the text. */
export function apiVersionReferences(text: string): Array<{ type: string; version: string }> {
  return [...text.matchAll(/'([A-Za-z]+\.[A-Za-z]+\/[\w/]+)@(\d{4}-\d{2}-\d{2}(?:-preview)?)'/g)].map(
    (m) => ({
      type: m[1],
      version: m[2],
    }),
  );
}

/** The text of `var <name> = <expression>` up to the end of its balanced expression. */
export function variableExpression(text: string, name: string): string {
  const m = new RegExp(`^var\\s+${name}\\s*=\\s*`, 'm').exec(text);
  if (!m) throw new Error(`var ${name} not found`);
  const start = m.index + m[0].length;
  const first = text[start];
  if (first === "'") {
    let i = start + 1;
    while (text[i] !== "'" || text[i - 1] === '\\') i++;
    return text.slice(start, i + 1);
  }
  const openAt = text.slice(start).search(/[({[]/);
  const close = matchingClose(text, start + openAt);
  return text.slice(start, close + 1);
}
