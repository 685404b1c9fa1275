import type { RunSummary } from '../core/engine/types';
import type { CliIo } from '../cli/output';
import type { ProgressReporter } from '../cli/progress';

/** One line of the final "what happened" table. */
export interface DemoStep {
  step: string;
  direction: string;
  run: string;
  result: string;
}

/** Tells the story on stdout (numbered chapters, indented details) and keeps the summary rows. */
export class Narrator {
  readonly steps: DemoStep[] = [];
  private chapter = 0;

  constructor(
    private readonly io: CliIo,
    private readonly reporter: ProgressReporter,
    private readonly chapters: number,
  ) {}

  /** `[3/9] Creating the sample table` */
  heading(title: string): void {
    this.chapter += 1;
    this.say('');
    this.say(`[${this.chapter}/${this.chapters}] ${title}`);
  }

  line(text: string): void {
    this.say(`      ${text}`);
  }

  record(step: DemoStep): void {
    this.steps.push(step);
  }

  say(text: string): void {
    // Progress bars live on stderr; finishing them first keeps the story readable on a terminal.
    this.reporter.finish();
    this.io.out(text);
  }
}

export function runLabel(summary: RunSummary): string {
  const verb = summary.runType === 'PUSH' ? 'push' : 'pull';
  return summary.runId === null ? `${verb} (skipped)` : `${verb} #${summary.runId}`;
}

/** `created 10,000, skipped 3 in 17.0s`: only the counts that are not zero. */
export function runResult(summary: RunSummary): string {
  const counts = (['created', 'updated', 'deleted', 'skipped', 'conflicts', 'failed'] as const)
    .filter((k) => summary[k] > 0)
    .map((k) => `${k} ${summary[k].toLocaleString('en-US')}`);
  return `${counts.length > 0 ? counts.join(', ') : 'nothing to do'} (${(summary.durationMs / 1000).toFixed(1)}s)`;
}

export function plural(n: number, word: string): string {
  return `${n.toLocaleString('en-US')} ${word}${n === 1 ? '' : 's'}`;
}
