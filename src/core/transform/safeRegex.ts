/**
 * Bounds on REGEX steps, so that no pattern from a definition can hang a run (JavaScript regexes backtrack).
 *
 * Two guards, both cheap and dependency-free:
 * 1. A star-height check when the definition is validated: a repeated group (`*`, `+`, `{n,}`, `{n,m}` with
 *    m > 1) that itself contains a repetition or an alternation, such as `(a+)+`, `(\w*)*` or `(a|aa)*`, is
 *    the shape behind catastrophic (exponential) backtracking and is refused; so are backreferences (`\1`).
 *    This is the heuristic of the `safe-regex` family (star height > 1), extended to alternation under a star.
 * 2. A cap on the input: a value longer than MAX_REGEX_INPUT characters is refused by the step, which bounds
 *    the polynomial backtracking the check above lets through (e.g. `\d+\d+x`).
 */

export const MAX_REGEX_INPUT = 10_000;
export const MAX_REGEX_PATTERN = 500;

const REGEX_FLAGS = /^[gimsu]*$/;

interface GroupState {
  repeats: boolean;
  alternates: boolean;
}

/** Reads a quantifier at `i`: its length and whether it repeats more than once. */
function quantifierAt(pattern: string, i: number): { length: number; repeats: boolean } | null {
  const c = pattern[i];
  if (c === '*' || c === '+') return { length: 1 + (pattern[i + 1] === '?' ? 1 : 0), repeats: true };
  if (c === '?') return { length: 1, repeats: false };
  if (c === '{') {
    const m = /^\{(\d+)(,(\d*))?\}/.exec(pattern.slice(i));
    if (!m) return null;
    const max = m[2] === undefined ? Number(m[1]) : m[3] === '' ? Infinity : Number(m[3]);
    return { length: m[0].length + (pattern[i + m[0].length] === '?' ? 1 : 0), repeats: max > 1 };
  }
  return null;
}

/** Why a pattern could backtrack catastrophically, or null when it passes the check. */
export function unsafeRegexReason(pattern: string): string | null {
  if (pattern.length > MAX_REGEX_PATTERN) return `the pattern is longer than ${MAX_REGEX_PATTERN} characters`;
  const stack: GroupState[] = [{ repeats: false, alternates: false }];
  let i = 0;
  while (i < pattern.length) {
    const c = pattern[i];
    const top = stack[stack.length - 1];
    if (c === '\\') {
      if (/[1-9]/.test(pattern[i + 1] ?? '') || pattern[i + 1] === 'k')
        return 'backreferences (\\1, \\k<name>) can take exponential time';
      i += 2;
    } else if (c === '[') {
      i++;
      while (i < pattern.length && pattern[i] !== ']') i += pattern[i] === '\\' ? 2 : 1;
      i++;
    } else if (c === '(') {
      stack.push({ repeats: false, alternates: false });
      i++;
      continue;
    } else if (c === ')') {
      const group = stack.length > 1 ? (stack.pop() as GroupState) : top;
      i++;
      const q = quantifierAt(pattern, i);
      const parent = stack[stack.length - 1];
      if (q) {
        if (q.repeats && (group.repeats || group.alternates))
          return 'a repeated group contains a repetition or an alternation (e.g. (a+)+ or (a|b)*): nested quantifiers can take exponential time';
        i += q.length;
        parent.repeats ||= group.repeats || q.repeats;
      } else parent.repeats ||= group.repeats;
      continue;
    } else if (c === '|') {
      top.alternates = true;
      i++;
      continue;
    } else i++;
    const q = quantifierAt(pattern, i);
    if (q) {
      if (q.repeats) top.repeats = true;
      i += q.length;
    }
  }
  return null;
}

/** Compiles a REGEX step's pattern, or says why it is refused. */
export function compileSafeRegex(pattern: string, flags: string): RegExp | string {
  if (!REGEX_FLAGS.test(flags)) return `flags "${flags}" are not among g, i, m, s, u`;
  if (new Set(flags).size !== flags.length) return `flags "${flags}" repeat a flag`;
  const unsafe = unsafeRegexReason(pattern);
  if (unsafe) return unsafe;
  try {
    return new RegExp(pattern, flags);
  } catch (err) {
    return `the pattern is not a valid regular expression: ${(err as Error).message}`;
  }
}
