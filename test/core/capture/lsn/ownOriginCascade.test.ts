import { runPull } from '../../../../src/core/engine/pull';
import { runPush } from '../../../../src/core/engine/push';
import { startHarness, type Harness } from '../../../support/engineHarness';
import { closeCapturing, lsnDefinition } from '../../../support/capture';

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(() => closeCapturing(h));

const push = (name: string) => runPush(h.ctx, name, { trigger: 'test' });
const pull = (name: string) => runPull(h.ctx, name, { trigger: 'test' });
const titles = async (list: string) => (await h.items(list)).map((i) => String(i.fields.Title)).sort();

describe('I3, I8, I17 (docs/design.md, own writes): changes Postgres makes inside an own-origin transaction to rows or values the pull did not write', () => {
  it('a SharePoint delete pulled into a parent row cascades to its child rows: the children’s items are deleted too', async () => {
    await h.db.pool
      .query(`CREATE TABLE tree (id integer PRIMARY KEY, parent integer REFERENCES tree (id) ON DELETE CASCADE,
                           name text, budget numeric(12,2))`);
    await h.db.pool.query(
      `INSERT INTO tree VALUES (1, NULL, 'parent', 1), (2, 1, 'child', 2), (3, NULL, 'other', 3)`,
    );
    await h.define(lsnDefinition('tree'));
    expect(await push('tree')).toMatchObject({ status: 'SUCCEEDED', created: 3 });
    await pull('tree'); // the first pull reads the list in full

    const parent = (await h.items('tree')).find((i) => i.fields.Title === 'parent');
    expect((await h.asUser('DELETE', `/sites/${h.siteId}/lists/tree/items/${parent?.id}`)).status).toBe(204);
    expect(await pull('tree')).toMatchObject({ status: 'SUCCEEDED', deleted: 1 });
    // Postgres deleted the child with its parent (ON DELETE CASCADE)
    const { rows } = await h.db.pool.query('SELECT id FROM tree ORDER BY id');
    expect(rows.map((r) => r.id)).toEqual([3]);

    const next = await push('tree');
    expect(next.status).toBe('SUCCEEDED');
    expect((await push('tree')).status).toBe('SUCCEEDED'); // a later push does not find it either
    // deletes.push PROPAGATE (I8): row 2 is gone from Postgres, so its item must go from SharePoint
    expect(await titles('tree')).toEqual(['other']);
  });

  it('a trigger that rewrites a pulled value: the value Postgres keeps reaches SharePoint', async () => {
    await h.db.pool.query(`CREATE TABLE norm (id integer PRIMARY KEY, name text, budget numeric(12,2))`);
    await h.db.pool.query(`CREATE FUNCTION norm_upper() RETURNS trigger LANGUAGE plpgsql AS
                           $$ BEGIN NEW.name := upper(NEW.name); RETURN NEW; END $$`);
    await h.db.pool.query(
      `CREATE TRIGGER norm_upper BEFORE INSERT OR UPDATE ON norm FOR EACH ROW EXECUTE FUNCTION norm_upper()`,
    );
    await h.db.pool.query(`INSERT INTO norm VALUES (1, 'a', 1)`);
    await h.define(lsnDefinition('norm'));
    expect(await push('norm')).toMatchObject({ status: 'SUCCEEDED', created: 1 });
    await pull('norm');

    const [item] = await h.items('norm');
    expect(
      (await h.asUser('PATCH', `/sites/${h.siteId}/lists/norm/items/${item.id}/fields`, { Title: 'from sp' }))
        .status,
    ).toBe(200);
    expect(await pull('norm')).toMatchObject({ status: 'SUCCEEDED', updated: 1 });
    const { rows } = await h.db.pool.query('SELECT name FROM norm WHERE id = 1');
    expect(rows[0].name).toBe('FROM SP'); // what Postgres keeps

    expect(await push('norm')).toMatchObject({ status: 'SUCCEEDED' });
    await pull('norm');
    await push('norm');
    // Quiescent and equal on both sides (I4): SharePoint must hold what Postgres holds
    expect(await titles('norm')).toEqual(['FROM SP']);
  });
});
