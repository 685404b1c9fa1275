import { CommanderError } from 'commander';
import { Pool } from 'pg';
import { SettingsError } from '../../src/config/settings';
import { createPool } from '../../src/core/db/pool';
import { GraphRequestError } from '../../src/core/target/sharepoint/errors';
import { describeFailure, ExitCode, redact, RunFailedError, SidesDifferError } from '../../src/cli/failures';
import { CursorSetupError, DefinitionBusyError } from '../../src/core/ops/errors';
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
    expect(describeFailure(new SidesDifferError('p', 2, 1))).toEqual({
      exitCode: ExitCode.DIFFERS,
      message: '"p": Postgres and SharePoint differ (2 field difference(s), 1 unpaired)',
    });
    expect(ExitCode.DIFFERS).toBe(1);
    expect(describeFailure(new CursorSetupError('p', '"public.v" is a view')).exitCode).toBe(
      ExitCode.INVALID,
    );
    expect(describeFailure(new DefinitionBusyError('p', 'removing it')).exitCode).toBe(ExitCode.RUNTIME);
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
    expect(describeFailure(transport, { graphBaseUrl: 'https://g/v1.0' })).toEqual({
      exitCode: ExitCode.RUNTIME,
      message: 'cannot reach Microsoft Graph at https://g/v1.0: connect ECONNREFUSED',
    });
    const forbidden = new GraphRequestError({
      method: 'POST',
      url: 'https://g/v1.0/sites/x/lists',
      status: 403,
      code: 'accessDenied',
      message: 'no',
    });
    expect(describeFailure(forbidden).message).toBe(
      'Microsoft Graph request failed: POST https://g/v1.0/sites/x/lists failed with 403 accessDenied: no',
    );
  });

  it('a failed run is classified from the error text it recorded', () => {
    const listMissing = new RunFailedError(
      'p',
      'PUSH',
      'Definition "p": list "P" not found on site "s" (404). Check the display name.',
    );
    expect(describeFailure(listMissing).exitCode).toBe(ExitCode.INVALID);
    const unreachable = new RunFailedError(
      'p',
      'PULL',
      'Definition "p": list "P" not found on site "s" (GET x failed with 0 transportFailure: fetch failed)',
    );
    expect(describeFailure(unreachable, { graphBaseUrl: 'https://g/v1.0' })).toMatchObject({
      exitCode: ExitCode.RUNTIME,
      message: expect.stringMatching(/^cannot reach Microsoft Graph at https:\/\/g\/v1\.0: /),
    });
    expect(describeFailure(new RunFailedError('p', 'PUSH', 'something else')).exitCode).toBe(
      ExitCode.RUNTIME,
    );
  });
});
