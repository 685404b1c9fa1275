import { parseConnectionString } from '../../../src/core/db/connectionString';
import { DatabaseConfigError } from '../../../src/core/db/errors';

describe('parseConnectionString', () => {
  test('reads user, password, host, port, database and the supported parameters', () => {
    const parsed = parseConnectionString(
      'postgresql://sync%40app:p%2Fw@db.example.com:6432/arcore?sslmode=verify-full&application_name=cli&connect_timeout=7&options=-c%20search_path%3Darcore',
    );
    expect(parsed).toEqual({
      host: 'db.example.com',
      port: 6432,
      database: 'arcore',
      user: 'sync@app',
      password: 'p/w',
      sslMode: 'verify-full',
      applicationName: 'cli',
      connectTimeoutSeconds: 7,
      options: '-c search_path=arcore',
    });
  });

  test('defaults the port to 5432 and the database to the user, and unwraps IPv6 hosts', () => {
    const parsed = parseConnectionString('postgres://id-api-abc@[::1]');
    expect(parsed.host).toBe('::1');
    expect(parsed.port).toBe(5432);
    expect(parsed.database).toBe('id-api-abc');
    expect(parsed.password).toBeUndefined();
  });
});

describe('I12 bad input: connection strings are rejected with a specific error', () => {
  test('an unsupported query parameter is named', () => {
    expect(() => parseConnectionString('postgres://u@h/db?sslmode=require&schema=x')).toThrow(
      /unsupported parameter\(s\) schema/,
    );
  });

  test('an unknown sslmode is named', () => {
    expect(() => parseConnectionString('postgres://u@h/db?sslmode=always')).toThrow(/sslmode/);
  });

  test('a non-postgres scheme is rejected', () => {
    expect(() => parseConnectionString('mysql://u@h/db')).toThrow(/must start with postgres:\/\//);
  });

  test('an unparsable URL does not echo the input (it may hold a password)', () => {
    let error: unknown;
    try {
      parseConnectionString('postgres://user:hunter2-secret@:::bad/db');
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(DatabaseConfigError);
    expect((error as Error).message).not.toContain('hunter2-secret');
  });

  test('a string without database or user is rejected', () => {
    expect(() => parseConnectionString('postgres://db.example.com')).toThrow(/neither a database nor a user/);
  });
});
