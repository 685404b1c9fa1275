/**
 * The emulator's data: sites, lists (columns, items, tombstones, change log) and subscriptions.
 * Pure data plus the bookkeeping every write needs; HTTP concerns live in the handlers.
 */
import { ChangeLog } from './changeLog';
import { genericListColumns, type ColumnDefinition } from './columns';
import { guidFromName, newGuid } from './ids';
import { ItemStore, itemRecord, type ItemRecord, type StoredItem, type StoredValue } from './itemStore';
import { truncateToSecond } from './time';

export type { ItemRecord, ItemVersion, StoredItem, StoredValue } from './itemStore';

export class ListStateError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ListStateError';
  }
}

/** Deleted items a list's recycle bin holds (the emulator's bound; SharePoint's is by age and site quota). */
const RECYCLE_BIN_ITEMS = 10_000;

export class ListState {
  readonly columnsByName = new Map<string, ColumnDefinition>();
  /** Items by id; ids are never reused, deleted ids stay empty. */
  private readonly store = new ItemStore();
  /** Per column: lower-cased text value → its item's id, or ids when several share it (idsWithText). */
  private readonly textIndexes = new Map<string, Map<string, TextIndexEntry>>();
  readonly tombstones = new Map<number, number>();
  /**
   * Deleted items as they were, by id, for a restore from the site's recycle bin (SharePoint keeps a deleted item
   * there, and restoring it brings it back under its id with its values). Not persisted: a restarted emulator's
   * recycle bin is empty.
   */
  readonly recycleBin = new Map<number, ItemRecord>();
  readonly changeLog = new ChangeLog();
  nextItemId = 1;
  liveCount = 0;
  seq = 0;
  /** Bumped when a column is added: part of the list's eTag. */
  schemaVersion = 1;

  constructor(
    readonly siteId: string,
    readonly id: string,
    public displayName: string,
    readonly name: string,
    public description: string,
    readonly template: string,
    readonly createdMs: number,
    public modifiedMs: number,
    readonly createdBy: string,
    readonly contentTypeId: string,
    readonly columns: ColumnDefinition[],
  ) {
    for (const column of columns) this.columnsByName.set(column.name, column);
  }

  static create(siteId: string, displayName: string, description: string, createdBy: string): ListState {
    const now = truncateToSecond(Date.now());
    const id = newGuid();
    return new ListState(
      siteId,
      id,
      displayName,
      displayName.replace(/[^A-Za-z0-9_-]/g, '') || 'List',
      description,
      'genericList',
      now,
      now,
      createdBy,
      `0x0100${id.replace(/-/g, '').toUpperCase()}`,
      genericListColumns(),
    );
  }

  addColumn(column: ColumnDefinition): void {
    this.columns.push(column);
    this.columnsByName.set(column.name, column);
    this.textIndexes.delete(column.name);
    this.schemaVersion++;
  }

  /**
   * Ids (ascending) of the items whose text value of `column` equals `lowerCaseText` ignoring case: what an
   * indexed column gives SharePoint, so a lookup by the hidden key does not read every item of a large list. The
   * index is built on first use and kept up to date by insert, replace and remove.
   */
  idsWithText(column: string, lowerCaseText: string): number[] {
    let index = this.textIndexes.get(column);
    if (!index) {
      index = new Map();
      for (const item of this.itemsAfter(0)) indexText(index, item.value(column), item.id, 1);
      this.textIndexes.set(column, index);
    }
    const entry = index.get(lowerCaseText);
    if (entry === undefined) return [];
    return typeof entry === 'number' ? [entry] : [...entry].sort((a, b) => a - b);
  }

  private unindex(id: number): void {
    for (const [column, index] of this.textIndexes) indexText(index, this.store.valueOf(id, column), id, -1);
  }

  private reindex(record: ItemRecord): void {
    for (const [column, index] of this.textIndexes) indexText(index, record.values[column], record.id, 1);
  }

  item(id: number): StoredItem | undefined {
    return this.store.view(id);
  }

  /** The sequence number of the next change; the caller stamps it on the item, then calls logChange. */
  nextSeq(): number {
    return ++this.seq;
  }

  logChange(seq: number, itemId: number): void {
    this.changeLog.append(seq, itemId);
    this.modifiedMs = truncateToSecond(Date.now());
    this.changeLog.compactIfSparse(this.liveCount + this.tombstones.size, (s, id) =>
      this.isCurrentChange(s, id),
    );
  }

  isCurrentChange(seq: number, itemId: number): boolean {
    if (this.store.has(itemId)) return this.store.changeSeqOf(itemId) === seq;
    return this.tombstones.get(itemId) === seq;
  }

  /** Stores a new item; returns its view. */
  insert(record: ItemRecord): StoredItem {
    if (this.store.has(record.id))
      throw new ListStateError(`item ${record.id} already exists in list '${this.displayName}'`);
    const item = this.store.put(record);
    this.reindex(record);
    this.liveCount++;
    return item;
  }

  /** Replaces an existing item's version (the replaced one becomes `previous`); returns the new view. */
  replace(record: ItemRecord): StoredItem {
    if (!this.store.has(record.id))
      throw new ListStateError(`item ${record.id} does not exist in list '${this.displayName}'`);
    this.unindex(record.id);
    const item = this.store.put(record);
    this.reindex(record);
    return item;
  }

  remove(itemId: number, seq: number): void {
    const item = this.store.view(itemId);
    if (item) {
      // Without its version history; the oldest deleted item leaves a full bin.
      const { previous: _previous, ...kept } = itemRecord(item);
      this.recycleBin.set(itemId, kept);
      if (this.recycleBin.size > RECYCLE_BIN_ITEMS)
        this.recycleBin.delete(this.recycleBin.keys().next().value as number);
    }
    this.unindex(itemId);
    this.store.delete(itemId);
    this.liveCount--;
    this.tombstones.set(itemId, seq);
  }

  /**
   * Brings a deleted item back from the recycle bin under its id, with the values it had, as a new version (a new
   * eTag, modified now by `editor`), stamped with `seq`: the caller logs the change, so delta reports the item again.
   */
  restore(itemId: number, seq: number, editor: string): StoredItem {
    const record = this.recycleBin.get(itemId);
    if (!record)
      throw new ListStateError(`item ${itemId} is not in the recycle bin of list '${this.displayName}'`);
    if (this.store.has(itemId))
      throw new ListStateError(`item ${itemId} already exists in list '${this.displayName}'`);
    this.recycleBin.delete(itemId);
    this.tombstones.delete(itemId);
    const restored: ItemRecord = {
      ...record,
      version: record.version + 1,
      changeSeq: seq,
      modifiedMs: Math.max(truncateToSecond(Date.now()), record.modifiedMs + 1000),
      editor,
    };
    return this.insert(restored);
  }

  /** Live items in id order, starting after `afterId`. */
  *itemsAfter(afterId: number): Generator<StoredItem> {
    const limit = this.store.idLimit;
    for (let id = afterId + 1; id < limit; id++) {
      const item = this.store.view(id);
      if (item) yield item;
    }
  }
}

export class SiteState {
  readonly lists = new Map<string, ListState>();
  readonly id: string;
  readonly collectionId: string;
  readonly webId: string;
  readonly hostname: string;
  readonly path: string;
  readonly createdMs: number;

  constructor(
    readonly hostPath: string,
    public timeZone: string,
  ) {
    const separator = hostPath.indexOf(':');
    this.hostname = hostPath.slice(0, separator).toLowerCase();
    this.path = hostPath.slice(separator + 1).replace(/\/+$/, '') || '/';
    this.collectionId = guidFromName(`site:${this.hostname}:${this.path.toLowerCase()}`);
    this.webId = guidFromName(`web:${this.hostname}:${this.path.toLowerCase()}`);
    this.id = `${this.hostname},${this.collectionId},${this.webId}`;
    this.createdMs = Date.UTC(2024, 0, 1);
  }

  get name(): string {
    const segments = this.path.split('/').filter(Boolean);
    return segments[segments.length - 1] ?? this.hostname;
  }

  get webUrl(): string {
    return `https://${this.hostname}${this.path === '/' ? '' : this.path}`;
  }

  /** A list by GUID, display name or URL name (case-insensitive for names, as SharePoint is). */
  findList(ref: string): ListState | undefined {
    const byId = this.lists.get(ref.toLowerCase());
    if (byId) return byId;
    const lower = ref.toLowerCase();
    for (const list of this.lists.values()) if (list.displayName.toLowerCase() === lower) return list;
    for (const list of this.lists.values()) if (list.name.toLowerCase() === lower) return list;
    return undefined;
  }
}

export interface Subscription {
  id: string;
  /** As the client sent it. */
  resource: string;
  siteId: string;
  listId: string;
  changeType: string;
  notificationUrl: string;
  lifecycleNotificationUrl: string | undefined;
  clientState: string | undefined;
  expirationMs: number;
  /** Identity name of the creator. */
  creator: string;
}

export class EmulatorState {
  readonly sites = new Map<string, SiteState>();
  readonly subscriptions = new Map<string, Subscription>();
  /** Bumped by expireDeltaTokens(): tokens carry the epoch they were issued in. */
  deltaEpoch = 1;

  constructor(
    readonly tenantId: string,
    siteHostPaths: string[],
    timeZones: Record<string, string>,
  ) {
    for (const hostPath of siteHostPaths) {
      const site = new SiteState(hostPath, timeZones[hostPath] ?? 'UTC');
      this.sites.set(site.id, site);
    }
  }

  /** Empties every site and drops subscriptions; tokens issued before stop working. */
  resetContents(timeZones: Record<string, string>): void {
    for (const site of this.sites.values()) {
      site.lists.clear();
      site.timeZone = timeZones[site.hostPath] ?? 'UTC';
    }
    this.subscriptions.clear();
    this.deltaEpoch++;
  }

  /** A site by composite id (`host,guid,guid`), by `host:/path`, or by the site-collection GUID. */
  findSite(ref: string): SiteState | undefined {
    const lower = ref.toLowerCase();
    const direct = this.sites.get(lower);
    if (direct) return direct;
    for (const site of this.sites.values()) {
      if (site.collectionId === lower) return site;
      const hostPath = `${site.hostname}:${site.path}`;
      if (hostPath.toLowerCase() === lower.replace(/\/+$/, '')) return site;
    }
    return undefined;
  }

  findListById(listId: string): { site: SiteState; list: ListState } | undefined {
    for (const site of this.sites.values()) {
      const list = site.lists.get(listId.toLowerCase());
      if (list) return { site, list };
    }
    return undefined;
  }
}

/** One id for a value held by one item (most keys), several otherwise: a Set per value would double the index. */
type TextIndexEntry = number | number[];

/** Adds (`delta` 1) or removes (-1) an item's text value in an equality index; other values are not indexed. */
function indexText(
  index: Map<string, TextIndexEntry>,
  value: StoredValue | undefined,
  id: number,
  delta: 1 | -1,
): void {
  if (typeof value !== 'string') return;
  const key = value.toLowerCase();
  const entry = index.get(key);
  if (delta === 1) {
    if (entry === undefined) index.set(key, id);
    else if (typeof entry === 'number') {
      if (entry !== id) index.set(key, [entry, id]);
    } else if (!entry.includes(id)) entry.push(id);
    return;
  }
  if (entry === undefined) return;
  if (typeof entry === 'number') {
    if (entry === id) index.delete(key);
    return;
  }
  const rest = entry.filter((other) => other !== id);
  if (rest.length === 0) index.delete(key);
  else index.set(key, rest.length === 1 ? rest[0] : rest);
}
