import { CommanderError } from 'commander';
import { Pool } from 'pg';
import { SettingsError } from '../../src/config/settings';
import { createPool } from '../../src/core/db/pool';
import { GraphRequestError } from '../../src/core/target/sharepoint/errors';
import { describeFailure, ExitCode, redact, RunFailedError, SidesDifferError } from '../../src/cli/failures';
import { CursorSetupError, DefinitionBusyError } from '../../src/core/ops/errors';
import { opsErrorStatus } from '../../src/functions/opsApi';
import { ResolutionWriteError } from '../../src/core/engine/resolve';
import { closedPort } from './cliHarness';

describe('failure classification (exit codes and messages)', () => {
  it('removes URL passwords and long secrets, but not short words that happen to be passwords', () => {
    expect(redact('connect postgres://sync:hunter2@db:5432/x failed', [])).toBe(
      'connect postgres://sync:***@db:5432/x failed',
    );
    expect(redact('token abcdefghijklmnop leaked', ['abcdefghijklmnop'])).toBe('token *** leaked');
    expect(redact('--take postgres', ['postgres'])).toBe('--take postgres');
  });

  it('usage and settings problems are exit 2', () => {
    expect(
      describeFailure(new CommanderError(1, 'commander.unknownCommand', 'unknown command')).exitCode,
    ).toBe(ExitCode.INVALID);
    expect(describeFailure(new SettingsError(['DATABASE_URL is required'])).exitCode).toBe(ExitCode.INVALID);
  });

  it('verify finding differences is exit 1; install-cursor on a view is exit 2; a busy definition is exit 3', () => {
    expect(describeFailure(new SidesDifferError('p', 2, 1))).toMatchObject({
      exitCode: ExitCode.DIFFERS,
      message: '"p": Postgres and SharePoint differ (2 field difference(s), 1 unpaired)',
    });
    expect(ExitCode.DIFFERS).toBe(1);
    expect(describeFailure(new CursorSetupError('p', '"public.v" is a view')).exitCode).toBe(
      ExitCode.INVALID,
    );
    const busy = describeFailure(new DefinitionBusyError('p', 'removing it'));
    expect(busy).toMatchObject({ exitCode: ExitCode.RUNTIME, kind: 'busy' });
    expect(busy.hint).toContain('wait for the run to finish');
    // The ops API answers the same kind and next step, with 409.
    expect(opsErrorStatus(new DefinitionBusyError('p', 'removing it'))).toEqual({
      status: 409,
      body: { error: busy.message, kind: 'busy', hint: busy.hint },
    });
  });

  it('a real refused Postgres connection is exit 3 naming host, port and database', async () => {
    const port = await closedPort();
    const pool: Pool = createPool({
      connectionString: `postgres://u:LongSecretPassword1@127.0.0.1:${port}/meta`,
      auth: 'password',
    });
    const error = await pool.query('SELECT 1').catch((e: unknown) => e);
    await pool.end();
    const failure = describeFailure(error, { secrets: ['LongSecretPassword1'] });
    expect(failure.exitCode).toBe(ExitCode.RUNTIME);
    expect(failure.message).toMatch(
      new RegExp(`^cannot reach Postgres at 127\\.0\\.0\\.1:${port}/meta: .*ECONNREFUSED`),
    );
    expect(failure.message).not.toContain('LongSecretPassword1');
  });

  it('Graph without an HTTP answer is "cannot reach Microsoft Graph"; other Graph errors name the request', () => {
    const transport = new GraphRequestError({
      method: 'GET',
      url: 'https://g/v1.0/sites/x',
      status: 0,
      code: 'transportFailure',
      message: 'connect ECONNREFUSED',
    });
    expect(describeFailure(transport, { graphBaseUrl: 'https://g/v1.0' })).toMatchObject({
      exitCode: ExitCode.RUNTIME,
      kind: 'unreachable',
      message: 'cannot reach Microsoft Graph at https://g/v1.0: connect ECONNREFUSED',
    });
    const forbidden = new GraphRequestError({
      method: 'POST',
      url: 'https://g/v1.0/sites/x/lists',
      status: 403,
      code: 'accessDenied',
      message: 'no',
    });
    expect(describeFailure(forbidden)).toEqual({
      exitCode: ExitCode.RUNTIME,
      kind: 'permission',
      message:
        'Microsoft Graph request failed: POST https://g/v1.0/sites/x/lists failed with 403 accessDenied: no',
      hint: expect.stringContaining('Sites.Manage.All'),
    });
  });

  it('each Graph status maps to one kind and one exit code', () => {
    const graphError = (status: number, code = 'x', method = 'GET') =>
      new GraphRequestError({ method, url: 'https://g/v1.0/sites/x', status, code, message: 'm' });
    const cases: [GraphRequestError, string, ExitCode][] = [
      [graphError(0, 'tlsFailure'), 'tls', ExitCode.RUNTIME],
      [graphError(401), 'authentication', ExitCode.RUNTIME],
      [graphError(403), 'permission', ExitCode.RUNTIME],
      [graphError(404), 'not_found', ExitCode.INVALID],
      [graphError(429), 'throttled', ExitCode.RUNTIME],
      [graphError(503), 'unreachable', ExitCode.RUNTIME],
      // A write refused for its values is a bad value; a read refused is not (the whole run failed).
      [graphError(400, 'x', 'PATCH'), 'data', ExitCode.INVALID],
      [graphError(400), 'internal', ExitCode.RUNTIME],
    ];
    for (const [error, kind, exitCode] of cases) {
      expect(describeFailure(error)).toMatchObject({ kind, exitCode });
    }
    expect(describeFailure(graphError(0, 'tlsFailure')).hint).toContain('GRAPH_CA_CERT_FILE');
  });

  it('a failed run is classified by the error kind it recorded, not by its text', () => {
    const text = 'Definition "p": list "P" not found on site "s" (404). Check the display name.';
    const listMissing = new RunFailedError('p', 'PUSH', text, {
      errorKind: 'not_found',
      errorHint: 'create it with provision',
    });
    expect(describeFailure(listMissing)).toEqual({
      exitCode: ExitCode.INVALID,
      kind: 'not_found',
      message: `push of "p" failed: ${text}`,
      hint: 'create it with provision',
    });
    // The same words with another kind (the run could not reach Graph) exit 3.
    const unreachable = new RunFailedError('p', 'PULL', text, { errorKind: 'unreachable' });
    expect(describeFailure(unreachable)).toMatchObject({ exitCode: ExitCode.RUNTIME, kind: 'unreachable' });
    const drift = new RunFailedError('p', 'PUSH', 'cannot map Postgres column name (bytea)', {
      errorKind: 'invalid_definition',
    });
    expect(describeFailure(drift).exitCode).toBe(ExitCode.INVALID);
    expect(describeFailure(new RunFailedError('p', 'PUSH', 'something else')).exitCode).toBe(
      ExitCode.RUNTIME,
    );
  });

  /**
   * A resolution's If-Match write meeting a 412 (the item edited between resolve's read and its write) was
   * classified `unreachable` whatever SharePoint answered: "check that the server is up" and a 502 (review r9).
   */
  it('a resolve SharePoint did not apply is classified by its answer: an item edited meanwhile is busy', () => {
    const edited = new ResolutionWriteError('7', { ref: 'r', status: 'precondition_failed' });
    const failure = describeFailure(edited);
    expect(failure).toMatchObject({ exitCode: ExitCode.RUNTIME, kind: 'busy' });
    expect(failure.message).toMatch(/the item changed while resolving/);
    expect(failure.hint).toBe(
      'the item was edited or deleted meanwhile: look at it again ("npx arcore-sync conflicts show 7"), then resolve again',
    );
    const statusOfOps = (o: ConstructorParameters<typeof ResolutionWriteError>[1]) =>
      opsErrorStatus(new ResolutionWriteError('7', o))?.status;
    expect([
      statusOfOps({ ref: 'r', status: 'precondition_failed' }),
      statusOfOps({ ref: 'r', status: 'failed', message: 'throttled for more than 60000 ms', notSent: true }),
      statusOfOps({ ref: 'r', status: 'failed', message: 'socket hang up' }),
      statusOfOps({ ref: 'r', status: 'rejected', httpStatus: 400, code: 'invalidRequest', message: 'bad' }),
    ]).toEqual([409, 503, 502, 400]);
  });
});
