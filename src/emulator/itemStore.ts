/**
 * A list's items in columnar, packed form, so that a million items fit in a few hundred megabytes: per-item
 * metadata (version, times, change sequence, author and editor, the eTag GUID) in typed arrays indexed by
 * item id, and each field in a column of its own (numbers and dates as float64, booleans as a tag, text and
 * multi-values as UTF-8 in a shared byte arena). Reads hand out StoredItem views that decode on demand;
 * the values of a whole item are decoded only when a caller asks for all of them.
 */
import { isGuid } from './ids';
import { toGraphDateTime } from './time';

/** A field value as SharePoint keeps it. Dates are `YYYY-MM-DDTHH:MM:SSZ` strings; lookups are ids. */
export type StoredValue = string | number | boolean | string[] | number[];

export interface ItemVersion {
  version: number;
  values: Record<string, StoredValue>;
  modifiedMs: number;
  editor: string;
}

/** An item as handlers read it. Views are snapshots of one version: read again after a write. */
export interface StoredItem {
  readonly id: number;
  /** The GUID inside the eTag. */
  readonly uniqueId: string;
  /** eTag version; also the major of `_UIVersionString`. */
  readonly version: number;
  /** Every stored field (decoded on first access). */
  readonly values: Readonly<Record<string, StoredValue>>;
  readonly createdMs: number;
  readonly modifiedMs: number;
  /** Identity names. */
  readonly author: string;
  readonly editor: string;
  /** Sequence number of the item's latest change in its list's change log. */
  readonly changeSeq: number;
  /** The version before the latest write, while kept: what a repeated delta occurrence may show. */
  readonly previous: ItemVersion | undefined;
  /** One field, without decoding the others. */
  value(name: string): StoredValue | undefined;
}

/** An item in plain form: what a write stores and what persistence saves. */
export interface ItemRecord {
  id: number;
  uniqueId: string;
  version: number;
  values: Record<string, StoredValue>;
  createdMs: number;
  modifiedMs: number;
  author: string;
  editor: string;
  changeSeq: number;
  previous?: ItemVersion | undefined;
}

/**
 * Previous versions are kept for the most recent updates only. They feed stale repeated occurrences in delta
 * pages, which Graph allows but never requires, so dropping the oldest loses no guarantee.
 */
export const PREVIOUS_VERSIONS_KEPT = 20_000;

export class ItemStoreError extends Error {
  constructor(
    message: string,
    readonly itemId: number,
  ) {
    super(message);
    this.name = 'ItemStoreError';
  }
}

const enum Tag {
  Absent = 0,
  False = 1,
  True = 2,
  Number = 3,
  /** A `YYYY-MM-DDTHH:MM:SSZ` string kept as its epoch milliseconds. */
  Date = 4,
  Text = 5,
  Strings = 6,
  Numbers = 7,
}

const DATE_SHAPE = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/;
const INITIAL_CAPACITY = 64;
const encoder = new TextEncoder();
const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

function grow<T extends Float64Array | Uint32Array | Uint16Array | Uint8Array>(array: T, length: number): T {
  const next = new (array.constructor as new (n: number) => T)(length);
  next.set(array);
  return next;
}

/** One field's values for every item id. Numeric and text storage are allocated on first use. */
class FieldColumn {
  tags: Uint8Array;
  numbers: Float64Array | undefined;
  /** Start and length of each item's bytes in the store's arena. */
  starts: Uint32Array | undefined;
  lengths: Uint32Array | undefined;

  constructor(capacity: number) {
    this.tags = new Uint8Array(capacity);
  }

  resize(capacity: number): void {
    this.tags = grow(this.tags, capacity);
    if (this.numbers) this.numbers = grow(this.numbers, capacity);
    if (this.starts) this.starts = grow(this.starts, capacity);
    if (this.lengths) this.lengths = grow(this.lengths, capacity);
  }
}

/** UTF-8 bytes of every text value, appended; rewritten when more than half of it is stale. */
class ByteArena {
  bytes = new Uint8Array(4096);
  used = 0;
  live = 0;

  append(text: string): { start: number; length: number } {
    const needed = this.used + text.length * 3;
    if (needed > this.bytes.length)
      this.bytes = grow(this.bytes, Math.max(needed, Math.ceil(this.bytes.length * 1.5)));
    const { written } = encoder.encodeInto(text, this.bytes.subarray(this.used));
    const start = this.used;
    this.used += written;
    this.live += written;
    return { start, length: written };
  }

  read(start: number, length: number): string {
    return Buffer.from(this.bytes.buffer, this.bytes.byteOffset + start, length).toString('utf8');
  }
}

interface PreviousRecord {
  version: number;
  modifiedMs: number;
  editor: string;
  /** The values as JSON: compact, and decoded only when a stale occurrence is rendered. */
  valuesJson: string;
}

export class ItemStore {
  private capacity = INITIAL_CAPACITY;
  private versions = new Uint32Array(INITIAL_CAPACITY);
  private changeSeqs = new Float64Array(INITIAL_CAPACITY);
  private createdMs = new Float64Array(INITIAL_CAPACITY);
  private modifiedMs = new Float64Array(INITIAL_CAPACITY);
  private authors = new Uint16Array(INITIAL_CAPACITY);
  private editors = new Uint16Array(INITIAL_CAPACITY);
  private guids = new Uint8Array(INITIAL_CAPACITY * 16);
  private readonly names: string[] = [];
  private readonly nameIndex = new Map<string, number>();
  private readonly columns: FieldColumn[] = [];
  private readonly columnNames: string[] = [];
  private readonly columnIndex = new Map<string, number>();
  private readonly arena = new ByteArena();
  private readonly previous = new Map<number, PreviousRecord>();
  /** One past the highest id ever stored. */
  private end = 1;

  has(id: number): boolean {
    return id > 0 && id < this.end && this.versions[id] !== 0;
  }

  /** Ids that may hold an item are below this. */
  get idLimit(): number {
    return this.end;
  }

  changeSeqOf(id: number): number {
    return this.changeSeqs[id];
  }

  view(id: number): StoredItem | undefined {
    return this.has(id) ? new ItemView(this, id) : undefined;
  }

  /** Stores a new item, or replaces an item's current version (keeping the replaced one as `previous`). */
  put(record: ItemRecord): StoredItem {
    const { id } = record;
    if (!Number.isInteger(id) || id <= 0)
      throw new ItemStoreError(`item id ${id} is not a positive integer`, id);
    if (!isGuid(record.uniqueId))
      throw new ItemStoreError(`item ${id}: uniqueId '${record.uniqueId}' is not a GUID`, id);
    this.ensureCapacity(id + 1);
    if (this.has(id)) this.rememberPrevious(id);
    else this.previous.delete(id);
    if (record.previous) this.setPrevious(id, record.previous);
    this.versions[id] = record.version;
    this.changeSeqs[id] = record.changeSeq;
    this.createdMs[id] = record.createdMs;
    this.modifiedMs[id] = record.modifiedMs;
    this.authors[id] = this.nameId(record.author);
    this.editors[id] = this.nameId(record.editor);
    this.writeGuid(id, record.uniqueId);
    for (const column of this.columns) this.clearCell(column, id);
    for (const [name, value] of Object.entries(record.values)) this.writeCell(this.column(name), id, value);
    if (id >= this.end) this.end = id + 1;
    this.compactArenaIfSparse();
    return new ItemView(this, id);
  }

  delete(id: number): void {
    if (!this.has(id)) return;
    for (const column of this.columns) this.clearCell(column, id);
    this.versions[id] = 0;
    this.previous.delete(id);
  }

  /** Every field of an item, decoded. */
  valuesOf(id: number): Record<string, StoredValue> {
    const values: Record<string, StoredValue> = {};
    for (let c = 0; c < this.columns.length; c++) {
      const value = this.readCell(this.columns[c], id);
      if (value !== undefined) values[this.columnNames[c]] = value;
    }
    return values;
  }

  valueOf(id: number, name: string): StoredValue | undefined {
    const c = this.columnIndex.get(name);
    return c === undefined ? undefined : this.readCell(this.columns[c], id);
  }

  metadata(id: number) {
    return {
      version: this.versions[id],
      changeSeq: this.changeSeqs[id],
      createdMs: this.createdMs[id],
      modifiedMs: this.modifiedMs[id],
      author: this.names[this.authors[id]],
      editor: this.names[this.editors[id]],
    };
  }

  uniqueIdOf(id: number): string {
    const g = this.guids;
    const o = id * 16;
    let text = '';
    for (let i = 0; i < 16; i++) {
      if (i === 4 || i === 6 || i === 8 || i === 10) text += '-';
      text += HEX[g[o + i]];
    }
    return text;
  }

  previousOf(id: number): ItemVersion | undefined {
    const record = this.previous.get(id);
    if (!record) return undefined;
    return {
      version: record.version,
      modifiedMs: record.modifiedMs,
      editor: record.editor,
      values: JSON.parse(record.valuesJson) as Record<string, StoredValue>,
    };
  }

  private rememberPrevious(id: number): void {
    this.setPrevious(id, {
      version: this.versions[id],
      modifiedMs: this.modifiedMs[id],
      editor: this.names[this.editors[id]],
      values: this.valuesOf(id),
    });
  }

  private setPrevious(id: number, version: ItemVersion): void {
    // Re-inserting moves the item to the newest end of the map's order.
    this.previous.delete(id);
    this.previous.set(id, {
      version: version.version,
      modifiedMs: version.modifiedMs,
      editor: version.editor,
      valuesJson: JSON.stringify(version.values),
    });
    if (this.previous.size > PREVIOUS_VERSIONS_KEPT) {
      const oldest = this.previous.keys().next();
      if (!oldest.done) this.previous.delete(oldest.value);
    }
  }

  private ensureCapacity(needed: number): void {
    if (needed <= this.capacity) return;
    let capacity = this.capacity;
    while (capacity < needed) capacity *= 2;
    this.versions = grow(this.versions, capacity);
    this.changeSeqs = grow(this.changeSeqs, capacity);
    this.createdMs = grow(this.createdMs, capacity);
    this.modifiedMs = grow(this.modifiedMs, capacity);
    this.authors = grow(this.authors, capacity);
    this.editors = grow(this.editors, capacity);
    this.guids = grow(this.guids, capacity * 16);
    for (const column of this.columns) column.resize(capacity);
    this.capacity = capacity;
  }

  private nameId(name: string): number {
    let index = this.nameIndex.get(name);
    if (index === undefined) {
      index = this.names.length;
      if (index > 0xffff) throw new ItemStoreError(`more than 65,536 distinct identities`, 0);
      this.names.push(name);
      this.nameIndex.set(name, index);
    }
    return index;
  }

  private writeGuid(id: number, guid: string): void {
    const hex = guid.replace(/-/g, '');
    for (let i = 0; i < 16; i++) this.guids[id * 16 + i] = parseInt(hex.slice(i * 2, i * 2 + 2), 16);
  }

  private column(name: string): FieldColumn {
    let index = this.columnIndex.get(name);
    if (index === undefined) {
      index = this.columns.length;
      this.columns.push(new FieldColumn(this.capacity));
      this.columnNames.push(name);
      this.columnIndex.set(name, index);
    }
    return this.columns[index];
  }

  private clearCell(column: FieldColumn, id: number): void {
    const tag = column.tags[id];
    if (tag >= Tag.Text) this.arena.live -= column.lengths![id];
    column.tags[id] = Tag.Absent;
  }

  private writeCell(column: FieldColumn, id: number, value: StoredValue): void {
    if (typeof value === 'boolean') {
      column.tags[id] = value ? Tag.True : Tag.False;
    } else if (typeof value === 'number') {
      column.numbers ??= new Float64Array(this.capacity);
      column.numbers[id] = value;
      column.tags[id] = Tag.Number;
    } else if (typeof value === 'string' && DATE_SHAPE.test(value) && this.isCanonicalDate(value)) {
      column.numbers ??= new Float64Array(this.capacity);
      column.numbers[id] = Date.parse(value);
      column.tags[id] = Tag.Date;
    } else {
      const tag = typeof value === 'string' ? Tag.Text : isNumberArray(value) ? Tag.Numbers : Tag.Strings;
      const text = tag === Tag.Text ? (value as string) : JSON.stringify(value);
      column.starts ??= new Uint32Array(this.capacity);
      column.lengths ??= new Uint32Array(this.capacity);
      const { start, length } = this.arena.append(text);
      column.starts[id] = start;
      column.lengths[id] = length;
      column.tags[id] = tag;
    }
  }

  private isCanonicalDate(value: string): boolean {
    const ms = Date.parse(value);
    return Number.isFinite(ms) && toGraphDateTime(ms) === value;
  }

  private readCell(column: FieldColumn, id: number): StoredValue | undefined {
    switch (column.tags[id] as Tag) {
      case Tag.Absent:
        return undefined;
      case Tag.False:
        return false;
      case Tag.True:
        return true;
      case Tag.Number:
        return column.numbers![id];
      case Tag.Date:
        return toGraphDateTime(column.numbers![id]);
      case Tag.Text:
        return this.arena.read(column.starts![id], column.lengths![id]);
      case Tag.Strings:
        return JSON.parse(this.arena.read(column.starts![id], column.lengths![id])) as string[];
      case Tag.Numbers:
        return JSON.parse(this.arena.read(column.starts![id], column.lengths![id])) as number[];
    }
  }

  /** Copies the live bytes into a fresh arena once stale ones (from updates and deletes) outweigh them. */
  private compactArenaIfSparse(): void {
    const arena = this.arena;
    if (arena.used < 1 << 20 || arena.live * 2 > arena.used) return;
    const bytes = new Uint8Array(Math.max(4096, Math.ceil(arena.live * 1.5)));
    let used = 0;
    for (const column of this.columns) {
      if (!column.starts || !column.lengths) continue;
      for (let id = 1; id < this.end; id++) {
        if (column.tags[id] < Tag.Text) continue;
        const start = column.starts[id];
        const length = column.lengths[id];
        bytes.set(arena.bytes.subarray(start, start + length), used);
        column.starts[id] = used;
        used += length;
      }
    }
    arena.bytes = bytes;
    arena.used = used;
    arena.live = used;
  }
}

function isNumberArray(value: string[] | number[]): value is number[] {
  return value.length > 0 && typeof value[0] === 'number';
}

/** A snapshot of an item's current version; field values are decoded when first read. */
class ItemView implements StoredItem {
  readonly version: number;
  readonly changeSeq: number;
  readonly createdMs: number;
  readonly modifiedMs: number;
  readonly author: string;
  readonly editor: string;
  private decoded: Record<string, StoredValue> | undefined;

  constructor(
    private readonly store: ItemStore,
    readonly id: number,
  ) {
    const meta = store.metadata(id);
    this.version = meta.version;
    this.changeSeq = meta.changeSeq;
    this.createdMs = meta.createdMs;
    this.modifiedMs = meta.modifiedMs;
    this.author = meta.author;
    this.editor = meta.editor;
  }

  get uniqueId(): string {
    return this.store.uniqueIdOf(this.id);
  }

  get values(): Readonly<Record<string, StoredValue>> {
    this.decoded ??= this.store.valuesOf(this.id);
    return this.decoded;
  }

  get previous(): ItemVersion | undefined {
    return this.store.previousOf(this.id);
  }

  value(name: string): StoredValue | undefined {
    return this.decoded ? this.decoded[name] : this.store.valueOf(this.id, name);
  }
}

/** An item in plain form (for saving). */
export function itemRecord(item: StoredItem): ItemRecord {
  const previous = item.previous;
  return {
    id: item.id,
    uniqueId: item.uniqueId,
    version: item.version,
    values: { ...item.values },
    createdMs: item.createdMs,
    modifiedMs: item.modifiedMs,
    author: item.author,
    editor: item.editor,
    changeSeq: item.changeSeq,
    ...(previous ? { previous } : {}),
  };
}

/** A version held as plain data (a stale occurrence in delta), readable like a stored item. */
export function plainItem(record: ItemRecord): StoredItem {
  return { ...record, previous: record.previous, value: (name: string) => record.values[name] };
}
