// Runs the suites known to be long first, then the rest in jest's own order (by the durations it cached, or by file
// size without a cache: a fresh clone, as in CI). A long suite started last would run on alone while the other
// worker sits idle: with two workers, the suite's wall time is about half the sum of its suites' only if the long
// ones start early. The list is the slowest suites of a full run (`npx jest --json`); a suite missing from it is only
// scheduled as jest would.
const Sequencer = require('@jest/test-sequencer').default;

const LONG_FIRST = [
  'core/engine/model.test.ts',
  'core/engine/postgresFault.test.ts',
  'cli/commands.test.ts',
  'cli/lifecycle.test.ts',
  'demo/demo.test.ts',
  'docs/docsCommands.test.ts',
  'cli/errors.test.ts',
  'core/budget/sharedBudget.test.ts',
  'conformance/dateOnly.test.ts',
  'cli/errorKinds.test.ts',
  'functions/continuation.test.ts',
  'core/engine/pull.test.ts',
  'core/budget/multiProcess.test.ts',
];

class LongFirstSequencer extends Sequencer {
  sort(tests) {
    const ordered = super.sort(tests);
    const rank = (test) => {
      const path = test.path.replace(/\\/g, '/');
      const i = LONG_FIRST.findIndex((suffix) => path.endsWith(`/test/${suffix}`));
      return i < 0 ? LONG_FIRST.length : i;
    };
    // Array.prototype.sort is stable: the rest keep jest's order.
    return [...ordered].sort((a, b) => rank(a) - rank(b));
  }
}

module.exports = LongFirstSequencer;
