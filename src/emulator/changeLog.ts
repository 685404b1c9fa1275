/**
 * A list's ordered change log: one entry (sequence number, item id) per write. Delta tokens hold a
 * sequence number, so an incremental delta call reads only the entries after it (binary search),
 * never all items. Entries superseded by a later write of the same item are skipped on read and
 * dropped when the log is compacted.
 */
export class ChangeLog {
  private seqs: number[] = [];
  private itemIds: number[] = [];

  append(seq: number, itemId: number): void {
    this.seqs.push(seq);
    this.itemIds.push(itemId);
  }

  get length(): number {
    return this.seqs.length;
  }

  /** Index of the first entry with a sequence number greater than `afterSeq`. */
  private firstIndexAfter(afterSeq: number): number {
    let lo = 0;
    let hi = this.seqs.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.seqs[mid] <= afterSeq) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** Entries after `afterSeq`, oldest first. */
  *entriesAfter(afterSeq: number): Generator<{ seq: number; itemId: number }> {
    for (let i = this.firstIndexAfter(afterSeq); i < this.seqs.length; i++)
      yield { seq: this.seqs[i], itemId: this.itemIds[i] };
  }

  /** Drops superseded entries once they outnumber the live ones, keeping appends amortised O(1). */
  compactIfSparse(liveEntries: number, isCurrent: (seq: number, itemId: number) => boolean): void {
    if (this.seqs.length < 2 * liveEntries + 1024) return;
    const seqs: number[] = [];
    const itemIds: number[] = [];
    for (let i = 0; i < this.seqs.length; i++) {
      if (isCurrent(this.seqs[i], this.itemIds[i])) {
        seqs.push(this.seqs[i]);
        itemIds.push(this.itemIds[i]);
      }
    }
    this.seqs = seqs;
    this.itemIds = itemIds;
  }
}
