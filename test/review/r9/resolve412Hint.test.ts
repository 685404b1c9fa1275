import { describeFailure } from '../../../src/cli/failures';
import { ResolutionWriteError } from '../../../src/core/engine/resolve';

/**
 * Review r9: a resolution whose If-Match write meets a 412 (the item edited between resolve's read and its write;
 * today's row-gone path, resolve.ts confirmDelete/bringRowBack, throws it for any outcome other than the one it
 * wanted) is a ResolutionWriteError, which classify.ts maps by name to `unreachable` for every outcome. The CLI
 * then prints "the item changed while resolving … run resolve again" followed by "next step: check that the server
 * is up and reachable from here, then run again": a network next step for an item a user just edited, which
 * should be read again (conflicts show ID) before choosing.
 */
describe('resolve meeting a 412', () => {
  it('does not send the operator to check the network', () => {
    const failure = describeFailure(
      new ResolutionWriteError('7', { ref: 'r', status: 'precondition_failed' }),
    );
    expect(failure.message).toMatch(/the item changed while resolving/);
    expect(failure.hint).not.toMatch(/reachable/);
  });
});
