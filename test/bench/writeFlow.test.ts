import { emulatorBatchWork } from '../../bench/writeFlow';

describe("the emulator's time per batch in the benchmark's figures", () => {
  it('reads the median and 90th percentile off half-millisecond buckets (upper edges)', () => {
    const histogram = new Array<number>(201).fill(0);
    histogram[4] = 50; // 2.0–2.5 ms
    histogram[6] = 40; // 3.0–3.5 ms
    histogram[20] = 10; // 10.0–10.5 ms
    expect(emulatorBatchWork(histogram)).toEqual({ emulatorBatchMsP50: 2.5, emulatorBatchMsP90: 3.5 });
  });

  it('has nothing to say when no batch was answered', () => {
    expect(emulatorBatchWork(new Array<number>(201).fill(0))).toBeNull();
  });
});
