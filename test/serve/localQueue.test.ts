import { silentLogger } from '../../src/core/engine/types';
import { LocalQueue, type QueuedWork } from '../../src/serve/localQueue';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('I11 local queue: one item per definition at a time', () => {
  it('runs items of one definition in order, one at a time, and definitions in parallel', async () => {
    const events: string[] = [];
    const inFlight = new Map<string, number>();
    let maxPerDefinition = 0;
    let maxOverall = 0;
    const queue = new LocalQueue<number>({
      log: silentLogger,
      run: async (work) => {
        inFlight.set(work.definition, (inFlight.get(work.definition) ?? 0) + 1);
        maxPerDefinition = Math.max(maxPerDefinition, inFlight.get(work.definition) ?? 0);
        maxOverall = Math.max(
          maxOverall,
          [...inFlight.values()].reduce((a, b) => a + b, 0),
        );
        events.push(`${work.definition}:${work.message}`);
        await sleep(10);
        inFlight.set(work.definition, (inFlight.get(work.definition) ?? 1) - 1);
      },
      poison: async () => {},
    });
    for (let i = 0; i < 5; i++) {
      queue.enqueue('push', 'a', i);
      queue.enqueue('pull', 'b', i);
    }
    await queue.idle();
    expect(events.filter((e) => e.startsWith('a:'))).toEqual(['a:0', 'a:1', 'a:2', 'a:3', 'a:4']);
    expect(events.filter((e) => e.startsWith('b:'))).toHaveLength(5);
    expect(maxPerDefinition).toBe(1);
    expect(maxOverall).toBe(2);
  });

  it('redelivers a failed item, then hands it to the poison step after the last attempt', async () => {
    const attempts: number[] = [];
    const poisoned: QueuedWork<string>[] = [];
    const queue = new LocalQueue<string>({
      log: silentLogger,
      maxAttempts: 3,
      retryDelayMs: 5,
      run: async (work) => {
        attempts.push(work.attempt);
        throw new Error('always fails');
      },
      poison: async (work) => {
        poisoned.push(work);
      },
    });
    queue.enqueue('pull', 'a', 'm');
    await queue.idle();
    expect(attempts).toEqual([1, 2, 3]);
    expect(poisoned).toEqual([{ kind: 'pull', definition: 'a', message: 'm', attempt: 3 }]);
  });

  it('counts tracked work and pending redeliveries until they settle', async () => {
    let runs = 0;
    const queue = new LocalQueue<string>({
      log: silentLogger,
      retryDelayMs: 30,
      run: async () => {
        runs += 1;
        if (runs === 1) throw new Error('first delivery fails');
      },
      poison: async () => {},
    });
    // A timer tick that enqueues only after a while: idle() must wait for it, then for the redelivery.
    void queue.track(sleep(20).then(() => queue.enqueue('push', 'a', 'late')));
    await queue.idle();
    expect(runs).toBe(2);
  });

  it('drops queued items and waits for the running one on stop', async () => {
    const started: number[] = [];
    let finished = 0;
    const queue = new LocalQueue<number>({
      log: silentLogger,
      run: async (work) => {
        started.push(work.message);
        await sleep(30);
        finished += 1;
      },
      poison: async () => {},
    });
    for (let i = 0; i < 4; i++) queue.enqueue('push', 'a', i);
    queue.enqueue('pull', 'b', 7, 60_000);
    await sleep(5);
    const dropped = await queue.stop();
    expect(started).toEqual([0]);
    expect(finished).toBe(1);
    // What will never be delivered is handed back, so the host can release what stood for it.
    expect(dropped.map((w) => `${w.kind}:${w.definition}:${w.message}`).sort()).toEqual([
      'pull:b:7',
      'push:a:1',
      'push:a:2',
      'push:a:3',
    ]);
    queue.enqueue('push', 'a', 9);
    await queue.idle();
    expect(started).toEqual([0]);
  });

  it('hands back, rather than poisons, a running item that fails or sends work on while stopping', async () => {
    const poisoned: string[] = [];
    let release: () => void = () => undefined;
    const running = new Promise<void>((resolve) => (release = resolve));
    const queue: LocalQueue<string> = new LocalQueue<string>({
      log: silentLogger,
      run: async (work) => {
        await running;
        if (work.message === 'fails') throw new Error('connection lost');
        queue.enqueue('pull', work.definition, 'continuation');
      },
      poison: async (work) => {
        poisoned.push(work.message);
      },
    });
    queue.enqueue('pull', 'a', 'fails');
    queue.enqueue('pull', 'b', 'continues');
    await sleep(5);
    const stopping = queue.stop();
    release();
    const dropped = await stopping;
    expect(poisoned).toEqual([]);
    expect(dropped.map((w) => `${w.definition}:${w.message}:${w.attempt}`).sort()).toEqual([
      'a:fails:2',
      'b:continuation:1',
    ]);
  });
});
