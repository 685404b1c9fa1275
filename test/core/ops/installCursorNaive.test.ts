/**
 * install-cursor on a `timestamp without time zone` cursor column whose trigger (an earlier version's) stamped
 * the writing session's local time (docs/design.md, "Decisions worth knowing": naive cursor values are UTC). The
 * new trigger stamps UTC; east of UTC every new stamp would then be hours EARLIER than the stored cursor, and the
 * push would skip the update. Replacing such a trigger stamps again the rows ahead of the UTC time now and makes
 * the definitions on the table read it all again on their next push; `validate` warns until it is done.
 */
import { parseDefinition } from '../../../src/core/definition/parse';
import type { SyncDefinitionInput } from '../../../src/core/definition/schema';
import { validateAgainstDatabase } from '../../../src/core/definition/validateLive';
import { runPush } from '../../../src/core/engine/push';
import { installCursor } from '../../../src/core/ops';
import { KEEP_CURSOR_SETTING } from '../../../src/core/source/postgres/cursorTrigger';
import { projectsDefinition, startHarness, type Harness } from '../../support/engineHarness';

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => h.close());

/** The trigger install-cursor installed before it stamped UTC: clock_timestamp() into the naive column. */
async function installLocalTimeTrigger(table: string): Promise<void> {
  await h.db.pool.query(`CREATE OR REPLACE FUNCTION public.arcore_touch_${table}_updated_at() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
      IF TG_OP = 'UPDATE' AND current_setting('${KEEP_CURSOR_SETTING}', true) = 'on' THEN
        NEW.updated_at := OLD.updated_at;
      ELSE
        NEW.updated_at := clock_timestamp();
      END IF;
      RETURN NEW;
    END $$`);
  await h.db.pool.query(`CREATE TRIGGER arcore_touch_updated_at BEFORE INSERT OR UPDATE ON ${table}
    FOR EACH ROW EXECUTE FUNCTION public.arcore_touch_${table}_updated_at()`);
}

/** An application session in Tokyo (UTC+9): the old trigger stamped its writes nine hours ahead of UTC. */
async function inTokyo(sql: string): Promise<void> {
  const c = await h.db.pool.connect();
  try {
    await c.query('BEGIN');
    await c.query("SET LOCAL TimeZone = 'Asia/Tokyo'");
    await c.query(sql);
    await c.query('COMMIT');
  } finally {
    c.release();
  }
}

const definition = (table: string, list: string): SyncDefinitionInput =>
  projectsDefinition(
    {
      name: table,
      source: { table, key: ['id'], cursor: { type: 'TIMESTAMP', column: 'updated_at' } },
      fields: [{ source: 'name', target: 'Title' }],
      conflictPolicy: 'LAST_WRITER_WINS',
    },
    list,
  );

describe('install-cursor replacing a trigger that stamped a naive cursor column in local time', () => {
  it('validate warns; install-cursor stamps UTC, and updates made after it still reach SharePoint', async () => {
    await h.db.pool.query(`CREATE TABLE local_stamped (
      id integer PRIMARY KEY, name text, updated_at timestamp NOT NULL DEFAULT now())`);
    await h.db.pool.query('CREATE INDEX ON local_stamped (updated_at, id)');
    await installLocalTimeTrigger('local_stamped');
    await h.define(definition('local_stamped', 'LocalStamped'));
    await inTokyo("INSERT INTO local_stamped (id, name) VALUES (1, 'a'), (2, 'b')");
    expect((await runPush(h.ctx, 'local_stamped', { trigger: 'test' })).created).toBe(2);

    const def = parseDefinition(definition('local_stamped', 'LocalStamped'));
    const before = await validateAgainstDatabase(def, h.db.pool);
    expect(before.warnings.map((w) => w.message).join('\n')).toMatch(
      /timestamp without time zone and conflictPolicy is LAST_WRITER_WINS.*reads its values as UTC.*Next step: "arcore-sync install-cursor local_stamped"/,
    );

    const result = await installCursor(h.db.pool, () => h.db.pool, 'local_stamped');
    expect(result.parts.find((p) => p.part === 'trigger')?.status).toBe('added');
    expect(result.rereading).toEqual(['local_stamped']);
    expect(result.notes.join('\n')).toMatch(/local time.*replaced by one stamping UTC/);
    expect(result.notes.join('\n')).toMatch(/next push of local_stamped reads the whole table again/);
    expect((await validateAgainstDatabase(def, h.db.pool)).warnings).toEqual([]);
    // No stamp is ahead of the UTC time any more.
    const { rows: ahead } = await h.db.pool.query(
      "SELECT count(*)::int AS n FROM local_stamped WHERE updated_at > clock_timestamp() AT TIME ZONE 'UTC'",
    );
    expect(ahead[0].n).toBe(0);

    // Updates from the same session after the new trigger: stamped in UTC, hours behind the old cursor.
    await inTokyo("UPDATE local_stamped SET name = 'a after install' WHERE id = 1");
    const first = await runPush(h.ctx, 'local_stamped', { trigger: 'test' });
    expect(first).toMatchObject({ status: 'SUCCEEDED', updated: 1, created: 0 });
    // And after that re-read: the cursor it stored is not ahead of the new stamps either.
    await inTokyo("UPDATE local_stamped SET name = 'b later' WHERE id = 2");
    const second = await runPush(h.ctx, 'local_stamped', { trigger: 'test' });
    expect(second).toMatchObject({ status: 'SUCCEEDED', updated: 1, created: 0 });
    const titles = (await h.items('LocalStamped')).map((i) => i.fields.Title).sort();
    expect(titles).toEqual(['a after install', 'b later']);

    // Running it again finds everything in place and asks for no re-read.
    const again = await installCursor(h.db.pool, () => h.db.pool, 'local_stamped');
    expect({ sql: again.sql, rereading: again.rereading }).toEqual({ sql: [], rereading: [] });
  }, 60_000);

  it('--print-sql shows the statements and names the reset-cursor to run afterwards', async () => {
    await h.db.pool.query(`CREATE TABLE local_printed (
      id integer PRIMARY KEY, name text, updated_at timestamp NOT NULL DEFAULT now())`);
    await installLocalTimeTrigger('local_printed');
    await h.define(definition('local_printed', 'LocalPrinted'));
    const result = await installCursor(h.db.pool, () => h.db.pool, 'local_printed', { printSql: true });
    expect(result.applied).toBe(false);
    expect(result.sql.join('\n')).toContain(`NEW."updated_at" := clock_timestamp() AT TIME ZONE 'UTC'`);
    expect(result.sql.join('\n')).toContain(
      `UPDATE "public"."local_printed" SET "updated_at" = clock_timestamp() AT TIME ZONE 'UTC' WHERE "updated_at" > clock_timestamp() AT TIME ZONE 'UTC'`,
    );
    expect(result.notes.join('\n')).toContain('arcore-sync reset-cursor NAME --scope source');
  });
});
