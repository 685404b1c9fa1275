import { ChangeLog } from '../../src/emulator/changeLog';

describe('ChangeLog', () => {
  it('returns only the entries after a position, oldest first', () => {
    const log = new ChangeLog();
    [
      [1, 10],
      [2, 11],
      [3, 10],
      [4, 12],
    ].forEach(([seq, id]) => log.append(seq, id));
    expect([...log.entriesAfter(2)]).toEqual([
      { seq: 3, itemId: 10 },
      { seq: 4, itemId: 12 },
    ]);
    expect([...log.entriesAfter(4)]).toEqual([]);
    expect([...log.entriesAfter(0)]).toHaveLength(4);
  });

  it('compacts superseded entries once they outnumber live ones, keeping positions meaningful', () => {
    const log = new ChangeLog();
    for (let seq = 1; seq <= 3000; seq++) log.append(seq, 1);
    log.compactIfSparse(1, (seq) => seq === 3000);
    expect(log.length).toBe(1);
    expect([...log.entriesAfter(1500)]).toEqual([{ seq: 3000, itemId: 1 }]);
    log.compactIfSparse(1, () => false);
    expect(log.length).toBe(1);
  });
});
