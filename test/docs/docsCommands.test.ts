import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startEmulator, type RunningEmulator } from '../../src/emulator';
import { exitOf, REPO_ROOT, runCli, spawnCli, tempDir, waitForLine, type CliResult } from '../cli/cliHarness';
import { freshDatabase, type TestDatabase } from '../support/db';
import { outputOf } from '../support/childNode';
import {
  deletesSchema,
  fieldMappingSchema,
  sourceSchema,
  syncDefinitionSchema,
  targetSchema,
} from '../../src/core/definition/schema';
import { commandLines, fencedBlocks, hereDocuments, notationProblems, type CommandLine } from './shellBlocks';

const DOCS = ['README.md', 'docs/cli.md'] as const;
const SHELL_LANGS = new Set(['bash']);

/**
 * What a pasted command may start with: the CLI through npx (never a bare `arcore-sync`, which is not on a
 * fresh clone's PATH), npm, the shell built-ins a setup needs, and the Azure tools the deploy steps name.
 */
const ALLOWED_STARTS = [
  /^npx arcore-sync( |$)/,
  /^node bin\/arcore-sync\.js( |$)/,
  /^npm( |$)/,
  /^(set|export|cd|cat|cp|curl|az|azd|func|azurite|source)( |$)/,
  /^\. \S/,
];

const doc = (file: string) => readFileSync(join(REPO_ROOT, file), 'utf8');

function shellCommands(file: string): CommandLine[] {
  return fencedBlocks(doc(file))
    .filter((b) => SHELL_LANGS.has(b.lang))
    .flatMap((b) => commandLines(b));
}

/** `node bin/arcore-sync.js`, the entry `npx arcore-sync` runs, in a fresh clone (no dist/: tsx). */
function runBin(args: string[], env: Record<string, string>, cwd: string): Promise<CliResult> {
  return outputOf(
    spawn(process.execPath, [join(REPO_ROOT, 'bin/arcore-sync.js'), ...args], {
      cwd,
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? cwd, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    }),
  );
}

const described = (r: CliResult) => `exit ${r.code}\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`;

describe.each(DOCS)('the shell blocks of %s', (file) => {
  it('has shell blocks to check', () => {
    expect(shellCommands(file).length).toBeGreaterThan(3);
  });

  it('starts every command with an allowed form (npx arcore-sync, never a bare arcore-sync)', () => {
    const offending = shellCommands(file)
      .filter((c) => !ALLOWED_STARTS.some((p) => p.test(c.command)))
      .map((c) => `${file}:${c.line}: ${c.command}`);
    expect(offending).toEqual([]);
  });

  it('has no [--option] brackets, a|b alternatives or ellipses inside a command', () => {
    const offending = shellCommands(file).flatMap((c) =>
      notationProblems(c.command).map((p) => `${file}:${c.line}: ${p}: ${c.command}`),
    );
    expect(offending).toEqual([]);
  });

  it('shows example output with the command as pasted: "$ npx arcore-sync", not "$ arcore-sync"', () => {
    const offending = fencedBlocks(doc(file)).flatMap((b) =>
      b.body
        .split('\n')
        .map((text, i) => ({ text, line: b.line + 1 + i }))
        .filter(({ text }) => /^\$ arcore-sync\b/.test(text))
        .map(({ text, line }) => `${file}:${line}: ${text}`),
    );
    expect(offending).toEqual([]);
  });
});

describe('the notation checks', () => {
  it('catch what they are for, and leave quoted JSON alone', () => {
    expect(notationProblems('npx arcore-sync install-cursor projects [--print-sql]')).toEqual([
      'optional-argument brackets',
    ]);
    expect(notationProblems('npx arcore-sync resolve 1 --take postgres|sharepoint')).toEqual([
      'an a|b alternative',
    ]);
    expect(notationProblems(`npx arcore-sync resolve 12 --values '{"Title":"a|b [--x]"}'`)).toEqual([]);
    const [block] = fencedBlocks(
      "```bash\nset -a; . x.env; set +a   # load\ncat > d.json <<'EOF'\n{}\nEOF\n```\n",
    );
    expect(commandLines(block).map((c) => c.command)).toEqual([
      'set -a',
      '. x.env',
      'set +a',
      "cat > d.json <<'EOF'",
    ]);
    expect(hereDocuments(block)).toEqual([{ file: 'd.json', body: '{}\n' }]);
  });
});

describe('the commands of the docs that run against the embedded defaults', () => {
  const subcommands = [
    ...new Set(
      DOCS.flatMap((file) => shellCommands(file))
        .map((c) => /^npx arcore-sync ([a-z][a-z-]*)/.exec(c.command)?.[1])
        .filter((name): name is string => name !== undefined),
    ),
  ].sort();

  it('names the commands a user needs', () => {
    expect(subcommands).toEqual(
      expect.arrayContaining([
        'migrate',
        'validate',
        'apply',
        'provision',
        'push',
        'pull',
        'verify',
        'serve',
      ]),
    );
  });

  it('npx arcore-sync --help', async () => {
    const result = await runCli(['--help'], {});
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('Usage: arcore-sync');
    for (const name of subcommands) expect(result.stdout).toMatch(new RegExp(`^\\s+${name}\\b`, 'm'));
  });

  it('npx arcore-sync <command> --help, for every command the docs run', async () => {
    const failures: string[] = [];
    // Two at a time: each is a Node process compiling the CLI through tsx.
    for (let i = 0; i < subcommands.length; i += 2) {
      const pair = subcommands.slice(i, i + 2);
      const results = await Promise.all(pair.map((name) => runCli([name, '--help'], {})));
      results.forEach((result, j) => {
        if (result.code !== 0 || !result.stdout.includes(`Usage: arcore-sync ${pair[j]}`))
          failures.push(`${pair[j]} --help: ${described(result)}`);
      });
    }
    expect(failures).toEqual([]);
  }, 180_000);

  describe("README's Sync your own table", () => {
    let db: TestDatabase;
    let dir: string;
    let env: Record<string, string>;
    let emulator: RunningEmulator;

    beforeAll(async () => {
      db = await freshDatabase();
      // The table the section describes, without a cursor column: install-cursor adds it.
      await db.pool.query('CREATE TABLE customers (id int PRIMARY KEY, name text, email text)');
      await db.pool.query(
        "INSERT INTO customers (id, name, email) VALUES (1, ' Ada ', 'ada@example.com'), (2, 'Grace', NULL)",
      );
      dir = tempDir('arcore-docs-');
      // The section's emulator, with its default site; unthrottled so the test does not wait on pacing.
      emulator = await startEmulator({ throttling: { enabled: false }, notificationDelayMs: 0 });
      const caFile = join(dir, 'ca.pem');
      writeFileSync(caFile, emulator.caCert);
      env = {
        DATABASE_URL: db.url,
        GRAPH_BASE_URL: emulator.baseUrl,
        GRAPH_TOKEN: emulator.appToken,
        GRAPH_CA_CERT_FILE: caFile,
      };
    });

    afterAll(async () => {
      await emulator?.stop();
      await db?.drop();
    });

    it('writes defs.json from its here-document and runs every command of the section, in order, to serve', async () => {
      const section = doc('README.md').split('## Sync your own table')[1]?.split('\n## ')[0] ?? '';
      const blocks = fencedBlocks(section).filter((b) => SHELL_LANGS.has(b.lang));
      const defs = blocks.flatMap((b) => hereDocuments(b)).find((d) => d.file === 'defs.json');
      expect(defs).toBeDefined();
      writeFileSync(join(dir, 'defs.json'), defs?.body ?? '');
      const commands = blocks
        .flatMap((b) => commandLines(b))
        .map((c) => c.command)
        .filter((c) => c.startsWith('npx arcore-sync '))
        .map((c) => c.split(/\s+/).slice(2));
      expect(commands.map((args) => args[0])).toEqual([
        'emulator',
        'migrate',
        'install-cursor',
        'validate',
        'apply',
        'provision',
        'push',
        'pull',
        'verify',
        'serve',
      ]);
      const ran: string[] = [];
      for (const args of commands) {
        // The emulator runs in this process (the same code, on a free port); serve is checked below.
        if (args[0] === 'emulator' || args[0] === 'serve') continue;
        const result = await runBin(args, env, dir);
        expect(`${args.join(' ')}: ${described(result)}`).toMatch(/^[^:]+: exit 0\n/);
        ran.push(args[0]);
      }
      expect(ran).toHaveLength(commands.length - 2);
      const { rows } = await db.pool.query<{ name: string }>('SELECT name FROM arcore.sync_definitions');
      expect(rows.map((r) => r.name)).toEqual(['customers']);

      // serve as written, on a free port instead of 7071, which another process may hold.
      const child = spawnCli(['serve', '--port', '0'], env, dir);
      const line = await waitForLine(child, /^local host listening at http:\/\/127\.0\.0\.1:\d+$/);
      const url = line.replace('local host listening at ', '');
      const response = await fetch(`${url}/api/ops/definitions/customers`);
      expect(response.status).toBe(200);
      expect(await response.json()).toMatchObject({ name: 'customers', ledgerSize: 2 });
      child.kill('SIGTERM');
      expect(await exitOf(child)).toBe(0);
    }, 240_000);

    it("validates the README's example definitions file (Sync definitions) against a table that fits it", async () => {
      const section = doc('README.md').split('## Sync definitions')[1]?.split('\n## ')[0] ?? '';
      const example = fencedBlocks(section).find((b) => b.lang === 'json');
      expect(example).toBeDefined();
      writeFileSync(join(dir, 'example.json'), example?.body ?? '');
      await db.pool.query(`CREATE TABLE projects (id int PRIMARY KEY, name text, budget numeric(12,2),
        sp_modified timestamptz, updated_at timestamptz NOT NULL DEFAULT now())`);
      await db.pool.query('CREATE INDEX ON projects (updated_at, id)');
      const validate = await runCli(['validate', 'example.json'], env, dir);
      expect(described(validate)).toMatch(/^exit 0\n/);
      expect(validate.stdout).toMatch(/projects: ok/);
    }, 120_000);
  });
});

describe("README's options table", () => {
  /** The rows of the table under "## Sync definitions" whose header is `option | default | meaning`. */
  function optionsTable(): string {
    const section = doc('README.md').split('## Sync definitions')[1]?.split('\n## ')[0] ?? '';
    const start = section.indexOf('| option | default | meaning |');
    const rest = section.slice(start);
    const end = rest.search(/\n(?!\|)/);
    return end < 0 ? rest : rest.slice(0, end);
  }

  it('names every key of a definition the schema accepts', () => {
    const table = optionsTable();
    expect(table).toContain('| option | default | meaning |');
    const nested: Record<string, { shape: Record<string, unknown> }> = {
      source: sourceSchema,
      target: targetSchema,
      deletes: deletesSchema,
      'fields[]': fieldMappingSchema,
      pull: syncDefinitionSchema.shape.pull.unwrap(),
    };
    const paths = Object.keys(syncDefinitionSchema.shape).flatMap((key) => {
      const inner = nested[key === 'fields' ? 'fields[]' : key];
      return inner
        ? Object.keys(inner.shape).map((k) => `${key === 'fields' ? 'fields[]' : key}.${k}`)
        : [key];
    });
    const documented = (path: string) => {
      const dot = path.lastIndexOf('.');
      const last = path.slice(dot + 1);
      return (
        table.includes(`\`${path}\``) ||
        (dot > 0 && table.includes(`\`${path.slice(0, dot)}.`) && table.includes(`\`.${last}\``)) ||
        (dot > 0 && table.includes(`\`${last}\``))
      );
    };
    expect(paths.length).toBeGreaterThan(20);
    expect(paths.filter((p) => !documented(p))).toEqual([]);
  });
});
