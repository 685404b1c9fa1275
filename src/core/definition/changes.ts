import { isDeepStrictEqual } from 'node:util';
import type { FieldMapping, SyncDefinition } from './schema';
import { DEFAULT_SITE_TIME_ZONE } from '../canonical/siteTimeZone';
import { isRouted, targetListLabel, targetLists } from '../routing/lists';

/**
 * What an `apply` changes in a stored definition, and what the next runs do about it (I14). Pure: the engine's
 * apply (src/core/engine/apply.ts) adds what only the metadata store knows (whether the definition has synced).
 */
export type DefinitionChangeKind =
  | 'field-added'
  | 'field-removed'
  | 'field-remapped'
  | 'direction-changed'
  | 'transform-changed'
  | 're-identifying'
  | 'source-changed'
  | 'setting-changed'
  | 'routes-changed';

export interface DefinitionChange {
  kind: DefinitionChangeKind;
  /** JSON path in the new definition (or the old one, for what was removed). */
  path: string;
  /** What changed, in plain words. */
  change: string;
  /** What the next runs do about it. */
  effect: string;
  /** SharePoint fields whose synced values must be forgotten so they are aligned afresh. */
  realign: string[];
  /** transform-changed: the SharePoint field whose pipeline changed. */
  field?: string;
  /** transform-changed on a definition that has synced: what the new pipeline would rewrite (engine/apply.ts). */
  rewrites?: PipelineRewrites;
  /**
   * deletes.pull switched away from IGNORE: rows kept under IGNORE (ITEM_DELETED) that stay kept, not synced; the
   * effect says what to do about them (engine/apply.ts).
   */
  heldRows?: number;
}

/** How many synced pairs a changed pipeline gives a different value, judged from the ledger. */
export interface PipelineRewrites {
  /** Pairs the ledger holds for the definition. */
  evaluated: number;
  /** Pairs whose value under the new pipeline differs from the synced one. */
  wouldRewrite: number;
  /** Pairs whose input the ledger cannot tell (CONCAT, or an old pipeline that cannot be undone). */
  unknown: number;
}

const samePlace = (a: string, b: string) => a.localeCompare(b, undefined, { sensitivity: 'accent' }) === 0;

/** Routes compared as the engine sees them: a single list is one default route. */
/**
 * Lists a routes change routes to for the first time: the first run refuses one holding items made before the sync
 * until a run is told to import them (engine/unclaimedItems.ts, ListHoldsUnsyncedItemsError).
 */
function newlyRoutedAdvice(before: SyncDefinition, after: SyncDefinition): string {
  if (!isRouted(after)) return '';
  const known = new Set(targetLists(before).map((l) => l.toLowerCase()));
  const added = targetLists(after).filter((l) => !known.has(l.toLowerCase()));
  if (added.length === 0) return '';
  return (
    `; ${added.map((l) => `"${l}"`).join(', ')} ${added.length === 1 ? 'is' : 'are'} routed to for the first ` +
    'time: the first run refuses a list holding items made before the sync (no hidden key), whose rows would be ' +
    `moved away, until "npx arcore-sync pull ${after.name} --import-existing-items" imports them`
  );
}

function routesOf(def: SyncDefinition): { when: string | null; list: string }[] {
  return (def.target.routes ?? [{ list: targetListLabel(def) }]).map((r) => ({
    when: r.when ?? null,
    list: r.list,
  }));
}

function routingLabel(def: SyncDefinition): string {
  if (!isRouted(def)) return `list "${targetListLabel(def)}"`;
  return `routes ${routesOf(def)
    .map((r) => (r.when === null ? `otherwise "${r.list}"` : `${r.when} → "${r.list}"`))
    .join('; ')}`;
}

function fieldLabel(f: FieldMapping): string {
  return `${f.source} → ${f.target}`;
}

/** Why a change of identity is refused on a definition that has synced, and what to do instead. */
export function reidentifyingAdvice(name: string, what: string): string {
  return (
    `changing ${what} of a definition that has synced would make every row look new (duplicate items, or ` +
    `items matched to the wrong rows). To sync with another list or key: "npx arcore-sync remove ${name}" and ` +
    'apply the definition again (the first push then creates every row; the old items stay where they are). If ' +
    `the list was replaced by one with the same name, keep the definition and run "npx arcore-sync relink ${name}".`
  );
}

export function describeDefinitionChanges(before: SyncDefinition, after: SyncDefinition): DefinitionChange[] {
  const out: DefinitionChange[] = [];
  const pullEnabled = after.pull.enabled;
  const addedEffect = pullEnabled
    ? 'the next pull reads the list once with it and aligns it: an empty side is filled from the other, ' +
      `different values go to the conflict policy (${after.conflictPolicy}); neither side is written for it before then`
    : 'the next push reads every row again and writes it where Postgres has a value (this definition does not pull)';
  // A backfill of the field aligns it by the same rules (src/core/engine/backfill), at once and resumably.
  const alignNow = (f: SyncDefinition['fields'][number]) =>
    `${addedEffect}. To align it now: "npx arcore-sync backfill ${after.name} --fields ${f.target}"` +
    (f.direction === 'PULL_ONLY' ? ' --direction pull' : '');

  if (!isDeepStrictEqual(before.source.key, after.source.key)) {
    out.push({
      kind: 're-identifying',
      path: 'source.key',
      change: `key [${before.source.key.join(', ')}] → [${after.source.key.join(', ')}]`,
      effect: reidentifyingAdvice(after.name, 'the key'),
      realign: [],
    });
  }
  const routedBefore = isRouted(before);
  const routedAfter = isRouted(after);
  if (
    !samePlace(before.target.site, after.target.site) ||
    (!routedBefore && !routedAfter && !samePlace(before.target.list ?? '', after.target.list ?? ''))
  ) {
    out.push({
      kind: 're-identifying',
      path: 'target.list',
      change: `list "${targetListLabel(before)}" on ${before.target.site} → "${targetListLabel(after)}" on ${after.target.site}`,
      effect: reidentifyingAdvice(after.name, 'the list'),
      realign: [],
    });
  } else if ((routedBefore || routedAfter) && !isDeepStrictEqual(routesOf(before), routesOf(after))) {
    out.push({
      kind: 'routes-changed',
      path: routedAfter ? 'target.routes' : 'target.list',
      change: `${routingLabel(before)} → ${routingLabel(after)}`,
      effect:
        'the next push reads every row again (continued by the runs after it when its time budget stops it) and ' +
        'moves every synced row whose list changes: it creates the item in its new list and deletes it from the ' +
        'old one (a create and a delete each); rows matching no route are no longer synced (unrouted)' +
        newlyRoutedAdvice(before, after),
      realign: [],
    });
  }
  if (before.target.keyColumn !== after.target.keyColumn) {
    out.push({
      kind: 're-identifying',
      path: 'target.keyColumn',
      change: `hidden key column "${before.target.keyColumn}" → "${after.target.keyColumn}"`,
      effect: reidentifyingAdvice(after.name, 'the hidden key column'),
      realign: [],
    });
  }
  const zoneBefore = before.target.siteTimeZone ?? DEFAULT_SITE_TIME_ZONE;
  const zoneAfter = after.target.siteTimeZone ?? DEFAULT_SITE_TIME_ZONE;
  if (zoneBefore !== zoneAfter) {
    out.push({
      kind: 'setting-changed',
      path: 'target.siteTimeZone',
      change: `site time zone "${zoneBefore}" → "${zoneAfter}"`,
      effect:
        'date-only values are written and read in the new zone from the next run. A day the old zone moved reads ' +
        'differently now, so the date-only fields of every synced pair are compared afresh: the next pull reads ' +
        'the list again, equal values need nothing and a date whose day differs between the sides goes to the ' +
        'conflict policy (other fields keep their synced values, so their edits sync as usual); a ' +
        'definition that does not pull rewrites its items on the next push. To settle a date field from the ' +
        `side that is right at once: "npx arcore-sync backfill ${after.name} --fields FIELD --direction push" ` +
        '(or --direction pull)',
      // Which fields are date-only is known from the list's columns: the next run realigns those (040).
      realign: [],
    });
  }
  const { source: bs } = before;
  const { source: as } = after;
  if (bs.connection !== as.connection || bs.schema !== as.schema || bs.table !== as.table) {
    out.push({
      kind: 'source-changed',
      path: 'source.table',
      change: `source ${bs.connection}:${bs.schema}.${bs.table} → ${as.connection}:${as.schema}.${as.table}`,
      effect:
        'rows are matched to their items by their key values as before; rows of the new source that differ from ' +
        'what was last synced are written by the next push',
      realign: [],
    });
  }

  const oldByTarget = new Map(before.fields.map((f, i) => [f.target, { f, i }]));
  const newTargets = new Set(after.fields.map((f) => f.target));
  after.fields.forEach((f, i) => {
    const path = `fields[${i}]`;
    const old = oldByTarget.get(f.target);
    if (!old) {
      out.push({
        kind: 'field-added',
        path,
        change: `added ${fieldLabel(f)} (${f.direction})`,
        effect: alignNow(f),
        realign: [f.target],
      });
      return;
    }
    if (old.f.source !== f.source) {
      out.push({
        kind: 'field-remapped',
        path: `${path}.source`,
        change: `"${f.target}" now maps from "${f.source}" instead of "${old.f.source}"`,
        effect: alignNow(f),
        realign: [f.target],
      });
      return;
    }
    if (old.f.direction !== f.direction) {
      out.push({
        kind: 'direction-changed',
        path: `${path}.direction`,
        change: `${fieldLabel(f)}: ${old.f.direction} → ${f.direction}`,
        effect: directionEffect(old.f.direction, f.direction),
        realign: [],
      });
    }
    for (const key of ['transform', 'pullTransform'] as const) {
      if (isDeepStrictEqual(old.f[key] ?? null, f[key] ?? null)) continue;
      out.push({
        kind: 'transform-changed',
        path: `${path}.${key}`,
        change: `${fieldLabel(f)}: ${key} ${JSON.stringify(old.f[key] ?? [])} → ${JSON.stringify(f[key] ?? [])}`,
        effect:
          `${key === 'transform' ? 'items' : 'rows'} get the new pipeline's value when the field next changes in ` +
          `${key === 'transform' ? 'Postgres' : 'SharePoint'}, or by a backfill; nothing is rewritten now`,
        realign: [],
        field: f.target,
      });
    }
  });
  before.fields.forEach((f, i) => {
    if (newTargets.has(f.target)) return;
    out.push({
      kind: 'field-removed',
      path: `fields[${i}]`,
      change: `removed ${fieldLabel(f)}`,
      effect: 'no longer synced; both sides keep their values',
      realign: [],
    });
  });

  const settings: [string, unknown, unknown][] = [
    ['conflictPolicy', before.conflictPolicy, after.conflictPolicy],
    ['mergeTieBreaker', before.mergeTieBreaker, after.mergeTieBreaker],
    ['deletes', before.deletes, after.deletes],
    ['schedule', before.schedule, after.schedule],
    ['pull', before.pull, after.pull],
    ['enabled', before.enabled, after.enabled],
    ['source.cursor', before.source.cursor, after.source.cursor],
    ['source.pageSize', before.source.pageSize, after.source.pageSize],
    ['source.overlapSeconds', before.source.overlapSeconds, after.source.overlapSeconds],
  ];
  for (const [path, was, now] of settings) {
    if (isDeepStrictEqual(was, now)) continue;
    out.push({
      kind: 'setting-changed',
      path,
      change: `${path}: ${JSON.stringify(was)} → ${JSON.stringify(now)}`,
      effect:
        path === 'conflictPolicy' && was === 'MANUAL'
          ? 'applies from the next run to new conflicts; rows whose conflict is already OPEN stay parked until ' +
            '`arcore-sync resolve` settles them (`arcore-sync conflicts NAME` lists them)'
          : path === 'deletes' && before.deletes.pull !== after.deletes.pull
            ? `applies from the next run, to every SharePoint delete it reads, also one made before this change ` +
              `that no pull has read yet (deletes.pull ${after.deletes.pull} then decides it; to have such deletes ` +
              `decided under ${before.deletes.pull}, run a pull before applying)`
            : path === 'pull' && before.pull.enabled && !after.pull.enabled
              ? 'pulls stop from the next run; the next push reads every row again, so a field a pull was still to ' +
                'align is written from Postgres where Postgres has a value (rows unchanged since the last sync write nothing)'
              : 'applies from the next run',
      realign: [],
    });
  }
  return out;
}

/**
 * What a direction change makes the next runs do (engine/apply.ts rereadsFor): a field that starts flowing to
 * Postgres has the list read again, one that starts flowing to SharePoint the table, so that a change made while it
 * did not flow is not left behind.
 */
function directionEffect(from: string, to: string): string {
  const reads: string[] = [];
  if (from === 'PUSH_ONLY' && to !== 'PUSH_ONLY') reads.push('the next pull reads the list again');
  if (from === 'PULL_ONLY' && to !== 'PULL_ONLY') reads.push('the next push reads every row again');
  return reads.length === 0
    ? 'flows in the new direction from the next change on; nothing is written because of this change'
    : `flows in the new direction: ${reads.join(' and ')}, so that a change made while it did not flow that way ` +
        'is synced (nothing else is written because of this change)';
}
