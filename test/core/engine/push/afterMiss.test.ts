import { afterMiss } from '../../../../src/core/engine/push/pendingCreates';

describe('afterMiss: where a pending create stands once its item is missed (I6)', () => {
  it('waits out the time left after a first miss, then concludes the create never landed', () => {
    expect(afterMiss({ checkedSecondsAgo: 120, mayStillLand: true }, 300)).toEqual({
      kind: 'wait',
      left: 180,
    });
    expect(afterMiss({ checkedSecondsAgo: 120, mayStillLand: false }, 300)).toEqual({
      kind: 'wait',
      left: 180,
    });
    expect(afterMiss({ checkedSecondsAgo: 300, mayStillLand: true }, 300)).toEqual({ kind: 'over' });
  });

  it("starts the wait only when the create's run never finished; 0 seconds turns the wait off", () => {
    expect(afterMiss({ checkedSecondsAgo: null, mayStillLand: true }, 300)).toEqual({ kind: 'first' });
    expect(afterMiss({ checkedSecondsAgo: null, mayStillLand: false }, 300)).toEqual({ kind: 'over' });
    expect(afterMiss({ checkedSecondsAgo: null, mayStillLand: true }, 0)).toEqual({ kind: 'over' });
    expect(afterMiss({ checkedSecondsAgo: 10, mayStillLand: true }, 0)).toEqual({ kind: 'over' });
  });
});
