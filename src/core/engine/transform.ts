import type { z } from 'zod';
import type { transformStepSchema } from '../definition/schema';

type TransformStep = z.output<typeof transformStepSchema>;

/** Push-side text transforms of a field mapping; non-text values pass through unchanged. */
export function applyTransforms(steps: TransformStep[], value: unknown): unknown {
  if (typeof value !== 'string') return value;
  let out: string | null = value;
  for (const step of steps) {
    if (out === null) break;
    switch (step) {
      case 'trim':
        out = out.trim();
        break;
      case 'lowercase':
        out = out.toLowerCase();
        break;
      case 'uppercase':
        out = out.toUpperCase();
        break;
      case 'emptyToNull':
        out = out === '' ? null : out;
        break;
    }
  }
  return out;
}
