/** Faults injected through the control API, applied to the next N matching Graph requests. */
import { z } from 'zod';
import { EmulatorSetupError } from './errors';
import type { FaultSpec } from './types';

export const faultSpecSchema = z
  .object({
    method: z.string().min(1).optional(),
    pathPattern: z.string().min(1).optional(),
    count: z.number().int().positive(),
    status: z.number().int().min(400).max(599).optional(),
    retryAfterSeconds: z.number().int().min(0).optional(),
    latencyMs: z.number().int().min(0).optional(),
    drop: z.enum(['before', 'after']).optional(),
  })
  .refine((f) => !(f.status !== undefined && f.drop !== undefined), {
    message: 'a fault either answers with a status or drops the connection, not both',
  })
  .refine((f) => f.status !== undefined || f.drop !== undefined || f.latencyMs !== undefined, {
    message: 'a fault needs status, drop or latencyMs',
  });

interface ActiveFault {
  spec: FaultSpec;
  pattern: RegExp | undefined;
  remaining: number;
}

export class FaultInjector {
  private faults: ActiveFault[] = [];

  add(input: unknown): void {
    const parsed = faultSpecSchema.safeParse(input);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new EmulatorSetupError(`Invalid fault ${issue.path.join('.') || ''}: ${issue.message}`, {
        fault: input,
      });
    }
    let pattern: RegExp | undefined;
    if (parsed.data.pathPattern !== undefined) {
      try {
        pattern = new RegExp(parsed.data.pathPattern);
      } catch (error) {
        throw new EmulatorSetupError(`Invalid fault pathPattern: ${(error as Error).message}`, {
          fault: input,
        });
      }
    }
    this.faults.push({ spec: parsed.data, pattern, remaining: parsed.data.count });
  }

  /** The first fault matching this request, counted down (and removed when used up). */
  take(method: string, path: string): FaultSpec | undefined {
    const index = this.faults.findIndex(
      (f) =>
        (f.spec.method === undefined || f.spec.method.toUpperCase() === method) &&
        (f.pattern === undefined || f.pattern.test(path)),
    );
    if (index < 0) return undefined;
    const fault = this.faults[index];
    fault.remaining--;
    if (fault.remaining <= 0) this.faults.splice(index, 1);
    return fault.spec;
  }

  clear(): void {
    this.faults = [];
  }
}
