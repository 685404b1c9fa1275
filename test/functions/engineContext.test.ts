import type { InvocationContext } from '@azure/functions';
import type { EngineContext } from '../../src/core/engine/types';
import { engineContextFor, type FunctionsRuntime } from '../../src/functions/runtime';

describe('engineContextFor', () => {
  it("keeps every setting of the process's context, with the invocation's log", () => {
    const ctx = {
      runMaxSeconds: 1500,
      ruPerMinute: 1250,
      pendingCreateSettleSeconds: 900,
      idleSlotLagBytes: 4096,
      sourcePool: (connection: string) => `pool:${connection}`,
      target: () => 'target',
    } as unknown as EngineContext;
    const lines: string[] = [];
    const invocation = {
      log: (m: string) => lines.push(m),
      info: (m: string) => lines.push(m),
      warn: (m: string) => lines.push(m),
      error: (m: string) => lines.push(m),
      debug: (m: string) => lines.push(m),
      trace: (m: string) => lines.push(m),
    } as unknown as InvocationContext;
    const out = engineContextFor({ ctx } as unknown as FunctionsRuntime, invocation);
    expect(out).toMatchObject({
      runMaxSeconds: 1500,
      ruPerMinute: 1250,
      pendingCreateSettleSeconds: 900,
      idleSlotLagBytes: 4096,
    });
    expect(out.sourcePool('default')).toBe('pool:default');
    out.log.info('hello');
    expect(lines.some((l) => l.includes('hello'))).toBe(true);
  });
});
