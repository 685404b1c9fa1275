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
const encoder = new TextEncoder();
const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

type TypedArray = Float64Array | Uint32Array | Uint16Array | Uint8Array;

/** Ids per page of a PagedArray. */
const PAGE_BITS = 12;
const PAGE_SIZE = 1 << PAGE_BITS;
const PAGE_MASK = PAGE_SIZE - 1;
/** The first page starts this small and doubles to PAGE_SIZE, so that a list of a few items stays small. */
const FIRST_PAGE_SIZE = 64;

/**
 * A typed array indexed by item id, `width` slots per id, in fixed pages: growing never copies what is
 * stored (no moment with two copies of a large array) and never leaves more than one page unused.
 */
class PagedArray<A extends TypedArray> {
  private readonly pages: A[] = [];

  constructor(
    private readonly make: (length: number) => A,
    private readonly width = 1,
  ) {}

  get(id: number, slot = 0): number {
    const page = this.pages[id >>> PAGE_BITS];
    const at = (id & PAGE_MASK) * this.width + slot;
    return page === undefined || at >= page.length ? 0 : page[at];
  }

  set(id: number, value: number, slot = 0): void {
    const index = id >>> PAGE_BITS;
    const at = (id & PAGE_MASK) * this.width + slot;
    let page = this.pages[index];
    if (page === undefined || at >= page.length) page = this.grow(index, at);
    page[at] = value;
  }

  private grow(index: number, at: number): A {
    const old = this.pages[index];
    let ids = index === 0 ? Math.max(FIRST_PAGE_SIZE, (old?.length ?? 0) / this.width) : PAGE_SIZE;
    while (ids * this.width <= at) ids *= 2;
    const page = this.make(Math.min(PAGE_SIZE, ids) * this.width);
    if (old) page.set(old);
    this.pages[index] = page;
    return page;
  }
}

/** One field's values for every item id. Numeric and text storage are allocated on first use. */
class FieldColumn {
  readonly tags = new PagedArray((n) => new Uint8Array(n));
  numbers: PagedArray<Float64Array> | undefined;
  /** Where each item's bytes are in the store's arena. */
  starts: PagedArray<Uint32Array> | undefined;
  lengths: PagedArray<Uint32Array> | undefined;
}

/** Bytes per arena chunk; a value starts inside the first CHUNK_SIZE bytes of its chunk. */
const CHUNK_BITS = 20;
const CHUNK_SIZE = 1 << CHUNK_BITS;
const FIRST_CHUNK_SIZE = 4096;

/**
 * UTF-8 bytes of every text value, appended to chunks of 1 MB (the first one starts small); an address is
 * `chunk << 20 | offset`. Rewritten when more than half of it is stale.
 */
class ByteArena {
  private chunks: Uint8Array[] = [new Uint8Array(FIRST_CHUNK_SIZE)];
  private used = 0;
  /** Bytes written, and bytes still referenced. */
  total = 0;
  live = 0;

  append(text: string): { start: number; length: number } {
    const { chunk, start } = this.room(text.length * 3);
    const { written } = encoder.encodeInto(text, chunk.subarray(this.used));
    this.advance(written);
    return { start, length: written };
  }

  appendBytes(bytes: Uint8Array): number {
    const { chunk, start } = this.room(bytes.length);
    chunk.set(bytes, this.used);
    this.advance(bytes.length);
    return start;
  }

  read(start: number, length: number): string {
    const bytes = this.bytes(start, length);
    return Buffer.from(bytes.buffer, bytes.byteOffset, length).toString('utf8');
  }

  bytes(start: number, length: number): Uint8Array {
    const chunk = this.chunks[Math.floor(start / CHUNK_SIZE)];
    const offset = start % CHUNK_SIZE;
    return chunk.subarray(offset, offset + length);
  }

  /** Takes over another arena's chunks (after a compaction wrote the live bytes there). */
  replaceWith(other: ByteArena): void {
    this.chunks = other.chunks;
    this.used = other.used;
    this.total = other.total;
    this.live = other.live;
  }

  /** The chunk with room for `bytes` more at `used`, and the address they will have. */
  private room(bytes: number): { chunk: Uint8Array; start: number } {
    let index = this.chunks.length - 1;
    let chunk = this.chunks[index];
    // An address holds an offset below CHUNK_SIZE: past it (after an oversized value), start a new chunk.
    if (this.used + bytes > chunk.length || this.used >= CHUNK_SIZE) {
      if (index === 0 && chunk.length < CHUNK_SIZE && this.used + bytes <= CHUNK_SIZE) {
        // The first chunk grows to its full size before a second one is started.
        const grown = new Uint8Array(Math.min(CHUNK_SIZE, Math.max(chunk.length * 2, this.used + bytes)));
        grown.set(chunk.subarray(0, this.used));
        this.chunks[0] = chunk = grown;
      } else {
        if (this.chunks.length >= 1 << (32 - CHUNK_BITS))
          throw new ItemStoreError('the text of one list exceeds 4 GB', 0);
        chunk = new Uint8Array(Math.max(CHUNK_SIZE, bytes));
        this.chunks.push(chunk);
        index++;
        this.used = 0;
      }
    }
    return { chunk, start: index * CHUNK_SIZE + this.used };
  }

  private advance(bytes: number): void {
    this.used += bytes;
    this.total += bytes;
    this.live += bytes;
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
  private readonly versions = new PagedArray((n) => new Uint32Array(n));
  private readonly changeSeqs = new PagedArray((n) => new Float64Array(n));
  private readonly createdMs = new PagedArray((n) => new Float64Array(n));
  private readonly modifiedMs = new PagedArray((n) => new Float64Array(n));
  private readonly authors = new PagedArray((n) => new Uint16Array(n));
  private readonly editors = new PagedArray((n) => new Uint16Array(n));
  private readonly guids = new PagedArray((n) => new Uint8Array(n), 16);
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
    return id > 0 && id < this.end && this.versions.get(id) !== 0;
  }

  /** Ids that may hold an item are below this. */
  get idLimit(): number {
    return this.end;
  }

  changeSeqOf(id: number): number {
    return this.changeSeqs.get(id);
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
    if (this.has(id)) this.rememberPrevious(id);
    else this.previous.delete(id);
    if (record.previous) this.setPrevious(id, record.previous);
    this.versions.set(id, record.version);
    this.changeSeqs.set(id, record.changeSeq);
    this.createdMs.set(id, record.createdMs);
    this.modifiedMs.set(id, record.modifiedMs);
    this.authors.set(id, this.nameId(record.author));
    this.editors.set(id, this.nameId(record.editor));
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
    this.versions.set(id, 0);
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
      version: this.versions.get(id),
      changeSeq: this.changeSeqs.get(id),
      createdMs: this.createdMs.get(id),
      modifiedMs: this.modifiedMs.get(id),
      author: this.names[this.authors.get(id)],
      editor: this.names[this.editors.get(id)],
    };
  }

  uniqueIdOf(id: number): string {
    let text = '';
    for (let i = 0; i < 16; i++) {
      if (i === 4 || i === 6 || i === 8 || i === 10) text += '-';
      text += HEX[this.guids.get(id, i)];
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
      version: this.versions.get(id),
      modifiedMs: this.modifiedMs.get(id),
      editor: this.names[this.editors.get(id)],
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
    for (let i = 0; i < 16; i++) this.guids.set(id, parseInt(hex.slice(i * 2, i * 2 + 2), 16), i);
  }

  private column(name: string): FieldColumn {
    let index = this.columnIndex.get(name);
    if (index === undefined) {
      index = this.columns.length;
      this.columns.push(new FieldColumn());
      this.columnNames.push(name);
      this.columnIndex.set(name, index);
    }
    return this.columns[index];
  }

  private clearCell(column: FieldColumn, id: number): void {
    const tag = column.tags.get(id);
    if (tag === Tag.Absent) return;
    if (tag >= Tag.Text) this.arena.live -= column.lengths!.get(id);
    column.tags.set(id, Tag.Absent);
  }

  private writeCell(column: FieldColumn, id: number, value: StoredValue): void {
    if (typeof value === 'boolean') {
      column.tags.set(id, value ? Tag.True : Tag.False);
    } else if (typeof value === 'number') {
      column.numbers ??= new PagedArray((n) => new Float64Array(n));
      column.numbers.set(id, value);
      column.tags.set(id, Tag.Number);
    } else if (typeof value === 'string' && DATE_SHAPE.test(value) && isCanonicalDate(value)) {
      column.numbers ??= new PagedArray((n) => new Float64Array(n));
      column.numbers.set(id, Date.parse(value));
      column.tags.set(id, Tag.Date);
    } else {
      const tag = typeof value === 'string' ? Tag.Text : isNumberArray(value) ? Tag.Numbers : Tag.Strings;
      const text = tag === Tag.Text ? (value as string) : JSON.stringify(value);
      column.starts ??= new PagedArray((n) => new Uint32Array(n));
      column.lengths ??= new PagedArray((n) => new Uint32Array(n));
      const { start, length } = this.arena.append(text);
      column.starts.set(id, start);
      column.lengths.set(id, length);
      column.tags.set(id, tag);
    }
  }

  private readCell(column: FieldColumn, id: number): StoredValue | undefined {
    switch (column.tags.get(id) as Tag) {
      case Tag.Absent:
        return undefined;
      case Tag.False:
        return false;
      case Tag.True:
        return true;
      case Tag.Number:
        return column.numbers!.get(id);
      case Tag.Date:
        return toGraphDateTime(column.numbers!.get(id));
      case Tag.Text:
        return this.arena.read(column.starts!.get(id), column.lengths!.get(id));
      case Tag.Strings:
        return JSON.parse(this.arena.read(column.starts!.get(id), column.lengths!.get(id))) as string[];
      case Tag.Numbers:
        return JSON.parse(this.arena.read(column.starts!.get(id), column.lengths!.get(id))) as number[];
    }
  }

  /** Copies the live bytes into a fresh arena once stale ones (from updates and deletes) outweigh them. */
  private compactArenaIfSparse(): void {
    const arena = this.arena;
    if (arena.total < CHUNK_SIZE || arena.live * 2 > arena.total) return;
    const fresh = new ByteArena();
    for (const column of this.columns) {
      if (!column.starts || !column.lengths) continue;
      for (let id = 1; id < this.end; id++) {
        if (column.tags.get(id) < Tag.Text) continue;
        const length = column.lengths.get(id);
        column.starts.set(id, fresh.appendBytes(arena.bytes(column.starts.get(id), length)));
      }
    }
    arena.replaceWith(fresh);
  }
}

function isCanonicalDate(value: string): boolean {
  const ms = Date.parse(value);
  return Number.isFinite(ms) && toGraphDateTime(ms) === value;
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
