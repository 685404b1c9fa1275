import type { RunScope } from '../../engine/runner';

/**
 * Page progress of an LSN push, as the TIMESTAMP page loop reports it (engine/push.ts): a `page` trace when a
 * page is read, then the cumulative count once its writes are committed. The total is unknown (the slot does
 * not say how many rows its changes touch), so it is null.
 */
export class PageProgress {
  private done = 0;

  constructor(private readonly scope: Pick<RunScope, 'ctx' | 'def' | 'target'>) {}

  read(rows: number, ms: number): void {
    this.scope.ctx.onProgress?.({
      runType: 'PUSH',
      definition: this.scope.def.name,
      done: this.done,
      total: null,
      throttleWaitMs: 0,
      trace: { kind: 'page', rows, ms },
    });
  }

  pushed(rows: number): void {
    this.done += rows;
    this.scope.ctx.onProgress?.({
      runType: 'PUSH',
      definition: this.scope.def.name,
      done: this.done,
      total: null,
      throttleWaitMs: this.scope.target.stats().throttleWaitMs,
    });
  }
}
