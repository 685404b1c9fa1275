/**
 * r11 review: rules Microsoft documents that the emulator does not enforce. The engine does not depend on these
 * today (its batch ids are numbers, it follows delta links verbatim), but a change that did would pass every test.
 */
import { startTestEmulator, type PageShape, type TestEmulator } from '../../emulator/support';

describe('r11: emulator leniency', () => {
  let t: TestEmulator;
  let items: string;
  beforeAll(async () => {
    t = await startTestEmulator({ batchAmbiguous503Rate: 0, deltaRepeats: false });
    const listId = await t.createList('Lenient', [{ name: 'Qty', number: {} }]);
    items = `/sites/${t.siteId}/lists/${listId}/items`;
    await t.graph('POST', items, { body: { fields: { Title: 'one', Qty: 1 } } });
  });
  afterAll(() => t.stop());

  it('$batch accepts two request ids that differ only by case', async () => {
    // "id … Not case-sensitive. Must be unique in the batch, otherwise, the batch request fails with a 400 error
    // code." (https://learn.microsoft.com/en-us/graph/json-batching, "Creating a batch request")
    const answer = await t.graph('POST', '/$batch', {
      body: {
        requests: [
          { id: 'a', method: 'GET', url: `${items}/1` },
          { id: 'A', method: 'GET', url: `${items}/1` },
        ],
      },
    });
    expect(answer.status).toBe(400);
  });

  it('a delta link takes query options added to it, overriding the ones its token encodes', async () => {
    // "If you use any query parameter (other than $deltatoken and $skiptoken), you must specify it in the initial
    // delta request. … You only need to specify any query parameters once upfront."
    // (https://learn.microsoft.com/en-us/graph/delta-query-overview, "State tokens"): a later option is not applied.
    let url: string | undefined = `${items}/delta`;
    let deltaLink: string | undefined;
    while (url) {
      const page: { body: PageShape } = await t.graph<PageShape>('GET', url);
      deltaLink = page.body['@odata.deltaLink'];
      url = page.body['@odata.nextLink'];
    }
    await t.graph('PATCH', `${items}/1/fields`, { body: { Qty: 2 } });
    const changes = await t.graph<PageShape>('GET', `${deltaLink}&$expand=fields($select=Qty)`);
    // Graph refuses the late option or ignores it; the emulator applies it.
    expect(changes.status === 200 && changes.body.value[0]?.fields !== undefined).toBe(false);
  });
});
