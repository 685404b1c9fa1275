import type { SyncDefinition } from '../definition/schema';
import { compileRoutes, type CompiledRoutes, type RouteColumn } from './compile';
import { RoutedDefinitionError } from './errors';

/*
 * Accessors for a definition's lists. A definition names one list (`target.list`) or routes rows to several
 * (`target.routes`); code that reads lists goes through these instead of `def.target.list`.
 */

type TargetOf = Pick<SyncDefinition, 'name' | 'target'>;

/** A list GUID (`target.list` or a route's `list` may name a list by id), with or without braces. */
const LIST_ID = /^\{?[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\}?$/i;

/** The list reference is a GUID: it names an existing list by id, never the display name of a list to create. */
export function isListId(ref: string): boolean {
  return LIST_ID.test(ref.trim());
}

/** The definition routes rows by rules (`target.routes`) rather than naming one list. */
export function isRouted(def: TargetOf): boolean {
  return def.target.routes !== undefined;
}

/**
 * Every list of a definition, each once, in order of first appearance in its routes: one for a single-list
 * definition. List names are compared case-insensitively, as SharePoint does.
 */
export function targetLists(def: TargetOf): string[] {
  if (def.target.routes === undefined) return [declaredList(def)];
  const out: string[] = [];
  const seen = new Set<string>();
  for (const route of def.target.routes) {
    const folded = route.list.toLowerCase();
    if (!seen.has(folded)) {
      seen.add(folded);
      out.push(route.list);
    }
  }
  return out;
}

/**
 * The one list of a single-list definition. `operation` names what needs one list; a routed definition throws
 * RoutedDefinitionError saying so, instead of silently using one of its lists.
 */
export function singleListOf(def: TargetOf, operation: string): string {
  if (def.target.routes !== undefined) throw new RoutedDefinitionError(def.name, operation);
  return declaredList(def);
}

function declaredList(def: TargetOf): string {
  if (def.target.list === undefined)
    throw new TypeError(
      `definition "${def.name}" has neither target.list nor target.routes: it bypassed the schema`,
    );
  return def.target.list;
}

/** The list, or the routed lists joined with ", ": for messages and status displays only. */
export function targetListLabel(def: TargetOf): string {
  return targetLists(def).join(', ');
}

/**
 * The routes of any definition: a single-list definition is one default route to its list, so a run can treat
 * both alike. `lists` equals targetLists(def), so a list index means the same in both.
 */
export function compileTargetRoutes(def: TargetOf, columns: readonly RouteColumn[]): CompiledRoutes {
  return compileRoutes(def.target.routes ?? [{ list: declaredList(def) }], columns);
}
