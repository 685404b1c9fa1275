/**
 * OData query options as Graph accepts them on list items: `$expand=fields(select=A,B)` (also
 * `fields($select=…)`), `$select`, `$top`, `$filter`, `$skiptoken`; the `$` prefix is optional.
 */
import { badRequest } from './errors';

export const DEFAULT_PAGE_SIZE = 200;
export const MAX_PAGE_SIZE = 5000;

export function queryOption(query: URLSearchParams, name: string): string | null {
  return query.get(`$${name}`) ?? query.get(name);
}

function splitTopLevel(text: string, separator: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let current = '';
  for (const ch of text) {
    if (ch === '(') depth++;
    if (ch === ')') depth--;
    if (ch === separator && depth === 0) {
      parts.push(current);
      current = '';
    } else {
      current += ch;
    }
  }
  parts.push(current);
  return parts.map((p) => p.trim()).filter(Boolean);
}

export interface ExpandOptions {
  /** Expand names other than fields, e.g. 'columns' on a list. */
  names: Set<string>;
  fields: boolean;
  /** `fields(select=…)`; undefined = all fields. */
  fieldSelect: string[] | undefined;
}

export function parseExpand(raw: string | null): ExpandOptions {
  const result: ExpandOptions = { names: new Set(), fields: false, fieldSelect: undefined };
  if (!raw) return result;
  for (const part of splitTopLevel(raw, ',')) {
    const m = /^([A-Za-z]+)\s*(?:\((.*)\))?$/.exec(part);
    if (!m) throw badRequest(`Invalid $expand clause '${part}'`);
    const name = m[1];
    if (name !== 'fields') {
      result.names.add(name);
      continue;
    }
    result.fields = true;
    if (m[2] === undefined) continue;
    for (const option of splitTopLevel(m[2], ';')) {
      const o = /^\$?select\s*=\s*(.*)$/i.exec(option);
      if (!o)
        throw badRequest(`Unsupported option '${option}' in $expand=fields(...): only select is supported`);
      result.fieldSelect = o[1]
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean);
    }
  }
  return result;
}

export function parseSelect(raw: string | null): string[] | undefined {
  if (!raw) return undefined;
  return raw
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}

export function parseTop(raw: string | null): number {
  if (raw === null) return DEFAULT_PAGE_SIZE;
  if (!/^\d+$/.test(raw)) throw badRequest(`Invalid $top value '${raw}'`);
  const top = Number(raw);
  if (top < 1 || top > MAX_PAGE_SIZE)
    throw badRequest(`$top must be between 1 and ${MAX_PAGE_SIZE}, got ${top}`);
  return top;
}

/** SharePoint's paging token: base64 of `Paged=TRUE&p_ID=<last id>`. */
export function encodeSkipToken(lastId: number): string {
  return Buffer.from(`Paged=TRUE&p_ID=${lastId}`).toString('base64');
}

export function decodeSkipToken(raw: string | null): number {
  if (!raw) return 0;
  const decoded = Buffer.from(raw, 'base64').toString('utf8');
  const m = /(?:^|&)p_ID=(\d+)(?:&|$)/.exec(decoded);
  if (!m) throw badRequest(`Invalid $skiptoken '${raw}'`);
  return Number(m[1]);
}

/** Keeps only the listed top-level properties of a Graph entity (and its @odata annotations). */
export function applySelect(
  entity: Record<string, unknown>,
  select: string[] | undefined,
): Record<string, unknown> {
  if (!select) return entity;
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(entity))
    if (key.startsWith('@odata.') || select.includes(key)) out[key] = value;
  return out;
}
