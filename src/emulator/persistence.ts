/**
 * Optional persistence: the whole state as one JSON file in the state dir, written atomically
 * (debounced after changes, and on stop) and validated with zod when loaded.
 */
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import type { ColumnDefinition } from './columns';
import { EmulatorSetupError } from './errors';
import { itemRecord } from './itemStore';
import { EmulatorState, ListState, type Subscription } from './state';

export const STATE_FILE = 'emulator-state.json';
const SAVE_DELAY_MS = 500;

const storedValueSchema = z.union([
  z.string(),
  z.number(),
  z.boolean(),
  z.array(z.string()),
  z.array(z.number()),
]);
const valuesSchema = z.record(z.string(), storedValueSchema);

const columnTypeSchema = z.discriminatedUnion('kind', [
  z.object({
    kind: z.literal('text'),
    allowMultipleLines: z.boolean(),
    maxLength: z.number(),
    textType: z.enum(['plain', 'richText']),
    linesForEditing: z.number(),
    appendChangesToExistingText: z.boolean(),
  }),
  z.object({
    kind: z.literal('number'),
    decimalPlaces: z.number().nullable(),
    minimum: z.number().nullable(),
    maximum: z.number().nullable(),
    displayAs: z.enum(['number', 'percentage']),
  }),
  z.object({ kind: z.literal('currency'), locale: z.string() }),
  z.object({
    kind: z.literal('dateTime'),
    format: z.enum(['dateOnly', 'dateTime']),
    displayAs: z.enum(['default', 'friendly', 'standard']),
  }),
  z.object({ kind: z.literal('boolean') }),
  z.object({
    kind: z.literal('choice'),
    choices: z.array(z.string()),
    allowTextEntry: z.boolean(),
    displayAs: z.enum(['dropDownMenu', 'radioButtons', 'checkBoxes']),
  }),
  z.object({
    kind: z.literal('lookup'),
    listId: z.string(),
    columnName: z.string(),
    allowMultipleValues: z.boolean(),
  }),
  z.object({
    kind: z.literal('personOrGroup'),
    allowMultipleSelection: z.boolean(),
    chooseFromType: z.enum(['peopleOnly', 'peopleAndGroups']),
    displayAs: z.string(),
  }),
  z.object({
    kind: z.literal('calculated'),
    formula: z.string(),
    outputType: z.enum(['boolean', 'currency', 'dateTime', 'number', 'text']),
    format: z.enum(['dateOnly', 'dateTime']).nullable(),
  }),
  z.object({ kind: z.literal('hyperlinkOrPicture'), isPicture: z.boolean() }),
  z.object({
    kind: z.literal('system'),
    role: z.enum([
      'id',
      'complianceAssetId',
      'contentType',
      'created',
      'modified',
      'author',
      'editor',
      'uiVersion',
      'attachments',
      'edit',
      'linkTitleNoMenu',
      'linkTitle',
      'docIcon',
      'itemChildCount',
      'folderChildCount',
      'complianceFlags',
      'complianceTag',
      'complianceTagWrittenTime',
      'complianceTagUserId',
      'appAuthor',
      'appEditor',
    ]),
  }),
]);

const columnSchema = z.object({
  id: z.string(),
  name: z.string(),
  displayName: z.string(),
  description: z.string(),
  columnGroup: z.string(),
  hidden: z.boolean(),
  indexed: z.boolean(),
  readOnly: z.boolean(),
  required: z.boolean(),
  type: columnTypeSchema,
});

const itemSchema = z.object({
  id: z.number().int().positive(),
  uniqueId: z.string(),
  version: z.number().int().positive(),
  values: valuesSchema,
  createdMs: z.number(),
  modifiedMs: z.number(),
  author: z.string(),
  editor: z.string(),
  changeSeq: z.number().int(),
  previous: z
    .object({ version: z.number().int(), values: valuesSchema, modifiedMs: z.number(), editor: z.string() })
    .optional(),
});

const listSchema = z.object({
  id: z.string(),
  displayName: z.string(),
  name: z.string(),
  description: z.string(),
  template: z.string(),
  createdMs: z.number(),
  modifiedMs: z.number(),
  createdBy: z.string(),
  contentTypeId: z.string(),
  schemaVersion: z.number().int(),
  nextItemId: z.number().int().positive(),
  seq: z.number().int().min(0),
  columns: z.array(columnSchema),
  items: z.array(itemSchema),
  tombstones: z.array(z.tuple([z.number().int(), z.number().int()])),
  /** Deleted items a user can still restore, oldest first (absent in files written before it was kept). */
  recycleBin: z.array(itemSchema).optional(),
});

const subscriptionSchema = z.object({
  id: z.string(),
  resource: z.string(),
  siteId: z.string(),
  listId: z.string(),
  changeType: z.string(),
  notificationUrl: z.string(),
  lifecycleNotificationUrl: z.string().optional(),
  clientState: z.string().optional(),
  expirationMs: z.number(),
  creator: z.string(),
});

const persistedSchema = z.object({
  version: z.literal(1),
  tenantId: z.string(),
  tokens: z.record(z.string(), z.string()),
  deltaEpoch: z.number().int(),
  sites: z.array(z.object({ hostPath: z.string(), timeZone: z.string(), lists: z.array(listSchema) })),
  subscriptions: z.array(subscriptionSchema),
});

export type PersistedState = z.infer<typeof persistedSchema>;

export function serializeState(state: EmulatorState, tokens: Record<string, string>): PersistedState {
  return {
    version: 1,
    tenantId: state.tenantId,
    tokens,
    deltaEpoch: state.deltaEpoch,
    sites: [...state.sites.values()].map((site) => ({
      hostPath: site.hostPath,
      timeZone: site.timeZone,
      lists: [...site.lists.values()].map((list) => ({
        id: list.id,
        displayName: list.displayName,
        name: list.name,
        description: list.description,
        template: list.template,
        createdMs: list.createdMs,
        modifiedMs: list.modifiedMs,
        createdBy: list.createdBy,
        contentTypeId: list.contentTypeId,
        schemaVersion: list.schemaVersion,
        nextItemId: list.nextItemId,
        seq: list.seq,
        columns: list.columns,
        items: [...list.itemsAfter(0)].map(itemRecord),
        tombstones: [...list.tombstones.entries()],
        recycleBin: [...list.recycleBin.values()],
      })),
    })),
    subscriptions: [...state.subscriptions.values()],
  };
}

function restoreList(siteId: string, data: PersistedState['sites'][number]['lists'][number]): ListState {
  const list = new ListState(
    siteId,
    data.id,
    data.displayName,
    data.name,
    data.description,
    data.template,
    data.createdMs,
    data.modifiedMs,
    data.createdBy,
    data.contentTypeId,
    data.columns as ColumnDefinition[],
  );
  list.schemaVersion = data.schemaVersion;
  list.nextItemId = data.nextItemId;
  list.seq = data.seq;
  const changes: [number, number][] = [];
  for (const item of data.items) {
    list.insert(item);
    changes.push([item.changeSeq, item.id]);
  }
  for (const [id, seq] of data.tombstones) {
    list.tombstones.set(id, seq);
    changes.push([seq, id]);
  }
  for (const item of data.recycleBin ?? []) list.recycleBin.set(item.id, item);
  changes.sort((a, b) => a[0] - b[0]);
  for (const [seq, id] of changes) list.changeLog.append(seq, id);
  return list;
}

/**
 * Rebuilds the state from a saved file. Sites come from the current options: lists of a site no
 * longer configured are dropped, new sites start empty.
 */
export function restoreState(
  data: PersistedState,
  siteHostPaths: string[],
  timeZones: Record<string, string>,
): EmulatorState {
  const state = new EmulatorState(data.tenantId, siteHostPaths, timeZones);
  state.deltaEpoch = data.deltaEpoch;
  for (const saved of data.sites) {
    const site = state.findSite(saved.hostPath);
    if (!site) continue;
    if (!(saved.hostPath in timeZones)) site.timeZone = saved.timeZone;
    for (const list of saved.lists) site.lists.set(list.id, restoreList(site.id, list));
  }
  for (const subscription of data.subscriptions)
    if (state.sites.has(subscription.siteId))
      state.subscriptions.set(subscription.id, subscription as Subscription);
  return state;
}

export async function loadPersistedState(stateDir: string): Promise<PersistedState | undefined> {
  const file = join(stateDir, STATE_FILE);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new EmulatorSetupError(`${file} is not valid JSON: ${(error as Error).message}`, { file });
  }
  const parsed = persistedSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new EmulatorSetupError(
      `${file} is not a saved emulator state (at ${issue.path.join('.')}: ${issue.message})`,
      {
        file,
      },
    );
  }
  return parsed.data;
}

/** Debounced, atomic writer of the state file. */
export class StateSaver {
  private timer: NodeJS.Timeout | undefined;
  private writing: Promise<void> = Promise.resolve();

  constructor(
    private readonly stateDir: string,
    private readonly snapshot: () => PersistedState,
  ) {}

  markDirty(): void {
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.save();
    }, SAVE_DELAY_MS);
    this.timer.unref();
  }

  /** Writes now (after any write in progress). */
  save(): Promise<void> {
    const data = JSON.stringify(this.snapshot());
    this.writing = this.writing.then(async () => {
      await mkdir(this.stateDir, { recursive: true });
      const file = join(this.stateDir, STATE_FILE);
      const temporary = `${file}.${process.pid}.tmp`;
      await writeFile(temporary, data);
      await rename(temporary, file);
    });
    return this.writing;
  }

  async flush(): Promise<void> {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    await this.save();
  }
}
