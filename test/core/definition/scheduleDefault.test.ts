import { parseDefinition, parseDefinitionsFile } from '../../../src/core/definition/parse';
import { DEFAULT_SCHEDULES, definitionsJsonSchema } from '../../../src/core/definition/schema';
import { pushTickWindow, scheduleFiresIn } from '../../../src/core/ops';
import { DEFAULT_PUSH_SCHEDULE } from '../../../src/functions/pushTimer';

const base = {
  target: { site: 'contoso.sharepoint.com:/sites/demo', list: 'Projects' },
  fields: [{ source: 'name', target: 'Title' }],
};
const lsn = { ...base, name: 'lsn', source: { table: 't', key: ['id'], cursor: { type: 'LSN' } } };
const timestamp = {
  ...base,
  name: 'ts',
  source: { table: 't', key: ['id'], cursor: { type: 'TIMESTAMP', column: 'updated_at' } },
};

describe('schedule default by cursor type', () => {
  it('is every minute for LSN and every 5 minutes for TIMESTAMP; a schedule written down is kept', () => {
    expect(parseDefinition(lsn).schedule).toBe('0 * * * * *');
    expect(parseDefinition(timestamp).schedule).toBe('0 */5 * * * *');
    expect(parseDefinition({ ...lsn, schedule: '0 0 * * * *' }).schedule).toBe('0 0 * * * *');
    const file = parseDefinitionsFile({ definitions: [lsn, timestamp] });
    expect(file.definitions.map((d) => d.schedule)).toEqual([
      DEFAULT_SCHEDULES.LSN,
      DEFAULT_SCHEDULES.TIMESTAMP,
    ]);
  });

  it('refuses an empty schedule rather than taking it for the default', () => {
    expect(() => parseDefinition({ ...lsn, schedule: '' })).toThrow(
      /schedule: must be an NCRONTAB expression/,
    );
  });

  it('the JSON Schema names both defaults and claims no single one', () => {
    const text = JSON.stringify(definitionsJsonSchema());
    expect(text).toContain(DEFAULT_SCHEDULES.LSN);
    expect(text).not.toContain('"default":""');
  });

  it("the app's default tick pushes an LSN definition every minute and a TIMESTAMP one every fifth minute", () => {
    const due = { lsn: 0, ts: 0 };
    for (let minute = 1; minute <= 10; minute++) {
      const window = pushTickWindow(
        DEFAULT_PUSH_SCHEDULE,
        new Date(Date.UTC(2026, 11, 6, 9, minute, 0, 250)),
      );
      if (scheduleFiresIn(DEFAULT_SCHEDULES.LSN, window)) due.lsn++;
      if (scheduleFiresIn(DEFAULT_SCHEDULES.TIMESTAMP, window)) due.ts++;
    }
    expect(due).toEqual({ lsn: 10, ts: 2 });
  });
});
