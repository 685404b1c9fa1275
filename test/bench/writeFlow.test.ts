import { emulatorBatchTimes } from '../../bench/writeFlow';

const empty = () => new Array<number>(201).fill(0);

describe("the emulator's times per batch in the benchmark's figures", () => {
  it('reads the median and 90th percentile off half-millisecond buckets (upper edges), for each histogram', () => {
    const work = empty();
    work[4] = 50; // 2.0–2.5 ms
    work[6] = 40; // 3.0–3.5 ms
    work[20] = 10; // 10.0–10.5 ms
    const inEmulator = empty();
    inEmulator[50] = 95; // 25.0–25.5 ms
    inEmulator[80] = 5;
    const late = empty();
    late[2] = 100; // 1.0–1.5 ms
    expect(
      emulatorBatchTimes({ batchWorkMs: work, batchInEmulatorMs: inEmulator, batchLatencyLateMs: late }),
    ).toEqual({
      emulatorBatchMsP50: 2.5,
      emulatorBatchMsP90: 3.5,
      emulatorInMsP50: 25.5,
      emulatorInMsP90: 25.5,
      emulatorLatencyLateMsP50: 1.5,
      emulatorLatencyLateMsP90: 1.5,
    });
  });

  it('leaves out a histogram with no batch in it (no injected latency: no lateness)', () => {
    const work = empty();
    work[3] = 1;
    expect(
      emulatorBatchTimes({ batchWorkMs: work, batchInEmulatorMs: work, batchLatencyLateMs: empty() }),
    ).toEqual({ emulatorBatchMsP50: 2, emulatorBatchMsP90: 2, emulatorInMsP50: 2, emulatorInMsP90: 2 });
    expect(
      emulatorBatchTimes({ batchWorkMs: empty(), batchInEmulatorMs: empty(), batchLatencyLateMs: empty() }),
    ).toEqual({});
  });
});
