/**
 * A decoder of the pgoutput logical replication protocol, version 1 (the messages of
 * https://www.postgresql.org/docs/current/protocol-logicalrep-message-formats.html that version 1 sends):
 * Begin, Commit, Origin, Relation, Type, Insert, Update, Delete, Truncate and Message. Column values are kept
 * as the text Postgres sends; the engine re-reads rows by key, so only key columns are ever interpreted.
 */

export type TupleValue =
  | { kind: 'null' }
  /** An unchanged TOASTed value the update did not carry. */
  | { kind: 'unchanged' }
  | { kind: 'text'; text: string };

export interface RelationColumn {
  name: string;
  typeOid: number;
  typeModifier: number;
  /** Part of the replica identity. */
  isKey: boolean;
}

export type PgoutputMessage =
  | { tag: 'begin'; finalLsn: string; commitTime: bigint; xid: number }
  | { tag: 'commit'; flags: number; commitLsn: string; endLsn: string; commitTime: bigint }
  | { tag: 'origin'; originLsn: string; name: string }
  | {
      tag: 'relation';
      relationId: number;
      schema: string;
      name: string;
      /** pg_class.relreplident: d default, n nothing, f full, i index. */
      replicaIdentity: string;
      columns: RelationColumn[];
    }
  | { tag: 'type'; typeOid: number; schema: string; name: string }
  | { tag: 'insert'; relationId: number; newTuple: TupleValue[] }
  | {
      tag: 'update';
      relationId: number;
      /** 'K': the old key (the key changed), 'O': the whole old row (REPLICA IDENTITY FULL), null: neither. */
      oldKind: 'K' | 'O' | null;
      oldTuple: TupleValue[] | null;
      newTuple: TupleValue[];
    }
  | { tag: 'delete'; relationId: number; oldKind: 'K' | 'O'; oldTuple: TupleValue[] }
  | { tag: 'truncate'; cascade: boolean; restartIdentity: boolean; relationIds: number[] }
  | { tag: 'message'; transactional: boolean; lsn: string; prefix: string; content: Buffer };

export class PgoutputDecodeError extends Error {
  constructor(message: string) {
    super(`pgoutput: ${message}`);
    this.name = 'PgoutputDecodeError';
  }
}

/** An LSN as Postgres writes it: high and low 32 bits in upper-case hex, "16/B374D848". */
export function formatLsn(value: bigint): string {
  return `${(value >> 32n).toString(16).toUpperCase()}/${(value & 0xffffffffn).toString(16).toUpperCase()}`;
}

export function parseLsn(text: string): bigint {
  const m = /^([0-9A-Fa-f]{1,8})\/([0-9A-Fa-f]{1,8})$/.exec(text);
  if (!m) throw new PgoutputDecodeError(`"${text}" is not an LSN`);
  return (BigInt(`0x${m[1]}`) << 32n) | BigInt(`0x${m[2]}`);
}

class Reader {
  private pos = 0;
  constructor(private readonly buf: Buffer) {}

  private need(n: number): void {
    if (this.pos + n > this.buf.length)
      throw new PgoutputDecodeError(`message ends early (needs ${n} bytes at offset ${this.pos})`);
  }
  byte(): number {
    this.need(1);
    return this.buf.readUInt8(this.pos++);
  }
  char(): string {
    return String.fromCharCode(this.byte());
  }
  int16(): number {
    this.need(2);
    const v = this.buf.readInt16BE(this.pos);
    this.pos += 2;
    return v;
  }
  int32(): number {
    this.need(4);
    const v = this.buf.readInt32BE(this.pos);
    this.pos += 4;
    return v;
  }
  uint32(): number {
    this.need(4);
    const v = this.buf.readUInt32BE(this.pos);
    this.pos += 4;
    return v;
  }
  int64(): bigint {
    this.need(8);
    const v = this.buf.readBigInt64BE(this.pos);
    this.pos += 8;
    return v;
  }
  lsn(): string {
    this.need(8);
    const v = this.buf.readBigUInt64BE(this.pos);
    this.pos += 8;
    return formatLsn(v);
  }
  cstring(): string {
    const end = this.buf.indexOf(0, this.pos);
    if (end < 0) throw new PgoutputDecodeError(`unterminated string at offset ${this.pos}`);
    const s = this.buf.toString('utf8', this.pos, end);
    this.pos = end + 1;
    return s;
  }
  bytes(n: number): Buffer {
    this.need(n);
    const b = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return b;
  }
  tuple(): TupleValue[] {
    const n = this.int16();
    const out: TupleValue[] = [];
    for (let i = 0; i < n; i++) {
      const kind = this.char();
      if (kind === 'n') out.push({ kind: 'null' });
      else if (kind === 'u') out.push({ kind: 'unchanged' });
      else if (kind === 't') out.push({ kind: 'text', text: this.bytes(this.int32()).toString('utf8') });
      else
        throw new PgoutputDecodeError(`unknown tuple column kind "${kind}" (binary mode is not requested)`);
    }
    return out;
  }
}

/** Decodes one message (one `data` value of pg_logical_slot_peek_binary_changes). */
export function decodePgoutput(data: Buffer): PgoutputMessage {
  const r = new Reader(data);
  const tag = r.char();
  switch (tag) {
    case 'B':
      return { tag: 'begin', finalLsn: r.lsn(), commitTime: r.int64(), xid: r.uint32() };
    case 'C':
      return { tag: 'commit', flags: r.byte(), commitLsn: r.lsn(), endLsn: r.lsn(), commitTime: r.int64() };
    case 'O':
      return { tag: 'origin', originLsn: r.lsn(), name: r.cstring() };
    case 'R': {
      const relationId = r.uint32();
      const schema = r.cstring();
      const name = r.cstring();
      const replicaIdentity = r.char();
      const n = r.int16();
      const columns: RelationColumn[] = [];
      for (let i = 0; i < n; i++) {
        const flags = r.byte();
        columns.push({
          isKey: (flags & 1) === 1,
          name: r.cstring(),
          typeOid: r.uint32(),
          typeModifier: r.int32(),
        });
      }
      return { tag: 'relation', relationId, schema, name, replicaIdentity, columns };
    }
    case 'Y':
      return { tag: 'type', typeOid: r.uint32(), schema: r.cstring(), name: r.cstring() };
    case 'I': {
      const relationId = r.uint32();
      if (r.char() !== 'N') throw new PgoutputDecodeError('insert without a new tuple');
      return { tag: 'insert', relationId, newTuple: r.tuple() };
    }
    case 'U': {
      const relationId = r.uint32();
      let marker = r.char();
      let oldKind: 'K' | 'O' | null = null;
      let oldTuple: TupleValue[] | null = null;
      if (marker === 'K' || marker === 'O') {
        oldKind = marker;
        oldTuple = r.tuple();
        marker = r.char();
      }
      if (marker !== 'N') throw new PgoutputDecodeError(`update without a new tuple (got "${marker}")`);
      return { tag: 'update', relationId, oldKind, oldTuple, newTuple: r.tuple() };
    }
    case 'D': {
      const relationId = r.uint32();
      const marker = r.char();
      if (marker !== 'K' && marker !== 'O')
        throw new PgoutputDecodeError(`delete without an old key or row (got "${marker}")`);
      return { tag: 'delete', relationId, oldKind: marker, oldTuple: r.tuple() };
    }
    case 'T': {
      const n = r.int32();
      const options = r.byte();
      const relationIds: number[] = [];
      for (let i = 0; i < n; i++) relationIds.push(r.uint32());
      return {
        tag: 'truncate',
        cascade: (options & 1) === 1,
        restartIdentity: (options & 2) === 2,
        relationIds,
      };
    }
    case 'M': {
      const transactional = r.byte() === 1;
      const lsn = r.lsn();
      const prefix = r.cstring();
      return { tag: 'message', transactional, lsn, prefix, content: r.bytes(r.int32()) };
    }
    default:
      throw new PgoutputDecodeError(`unknown message type "${tag}" (0x${data[0]?.toString(16) ?? '??'})`);
  }
}
