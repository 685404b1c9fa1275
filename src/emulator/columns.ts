/**
 * Column definitions: the system columns every list has, the user columns created through Graph
 * (one type facet each), internal-name escaping, and rendering as Graph `columnDefinition` objects.
 */
import { z } from 'zod';
import { badRequest, GraphError } from './errors';
import { compileFormula, FormulaError } from './formula';
import { newGuid } from './ids';

export type SystemRole =
  | 'id'
  | 'complianceAssetId'
  | 'contentType'
  | 'created'
  | 'modified'
  | 'author'
  | 'editor'
  | 'uiVersion'
  | 'attachments'
  | 'edit'
  | 'linkTitleNoMenu'
  | 'linkTitle'
  | 'docIcon'
  | 'itemChildCount'
  | 'folderChildCount'
  | 'complianceFlags'
  | 'complianceTag'
  | 'complianceTagWrittenTime'
  | 'complianceTagUserId'
  | 'appAuthor'
  | 'appEditor';

export const DECIMAL_PLACES = ['none', 'one', 'two', 'three', 'four', 'five'] as const;

export type ColumnType =
  | {
      kind: 'text';
      allowMultipleLines: boolean;
      maxLength: number;
      textType: 'plain' | 'richText';
      linesForEditing: number;
      appendChangesToExistingText: boolean;
    }
  | {
      kind: 'number';
      /** Digits after the point the value is shown with (null = 'automatic'); values are stored as sent. */
      decimalPlaces: number | null;
      minimum: number | null;
      maximum: number | null;
      displayAs: 'number' | 'percentage';
    }
  | { kind: 'currency'; locale: string }
  | { kind: 'dateTime'; format: 'dateOnly' | 'dateTime'; displayAs: 'default' | 'friendly' | 'standard' }
  | { kind: 'boolean' }
  | {
      kind: 'choice';
      choices: string[];
      allowTextEntry: boolean;
      displayAs: 'dropDownMenu' | 'radioButtons' | 'checkBoxes';
    }
  | { kind: 'lookup'; listId: string; columnName: string; allowMultipleValues: boolean }
  | {
      kind: 'personOrGroup';
      allowMultipleSelection: boolean;
      chooseFromType: 'peopleOnly' | 'peopleAndGroups';
      displayAs: string;
    }
  | {
      kind: 'calculated';
      formula: string;
      outputType: 'boolean' | 'currency' | 'dateTime' | 'number' | 'text';
      format: 'dateOnly' | 'dateTime' | null;
    }
  | { kind: 'hyperlinkOrPicture'; isPicture: boolean }
  | { kind: 'system'; role: SystemRole };

export interface ColumnDefinition {
  id: string;
  /** Internal name: the key inside `fields`. */
  name: string;
  displayName: string;
  description: string;
  columnGroup: string;
  hidden: boolean;
  indexed: boolean;
  readOnly: boolean;
  required: boolean;
  type: ColumnType;
}

export function isMultiChoice(type: ColumnType): boolean {
  return type.kind === 'choice' && type.displayAs === 'checkBoxes';
}

export function isLookupLike(
  type: ColumnType,
): type is Extract<ColumnType, { kind: 'lookup' }> | Extract<ColumnType, { kind: 'personOrGroup' }> {
  return type.kind === 'lookup' || type.kind === 'personOrGroup';
}

export function isMultiValued(type: ColumnType): boolean {
  return (
    isMultiChoice(type) ||
    (type.kind === 'lookup' && type.allowMultipleValues) ||
    (type.kind === 'personOrGroup' && type.allowMultipleSelection)
  );
}

/** Columns whose value a client can never write through Graph. */
export function isWritable(column: ColumnDefinition): boolean {
  return (
    !column.readOnly &&
    column.type.kind !== 'system' &&
    column.type.kind !== 'calculated' &&
    column.type.kind !== 'hyperlinkOrPicture'
  );
}

/** Internal names longer than this are truncated by SharePoint. */
export const MAX_INTERNAL_NAME_LENGTH = 32;

/**
 * SharePoint's internal-name escaping: characters outside XML name characters become `_xHHHH_`
 * (space → `_x0020_`); a leading digit is escaped too.
 */
export function toInternalName(name: string): string {
  let out = '';
  [...name].forEach((ch, index) => {
    if (/[A-Za-z_]/.test(ch) || (index > 0 && /[0-9]/.test(ch))) out += ch;
    else for (const unit of ch.split('')) out += `_x${unit.charCodeAt(0).toString(16).padStart(4, '0')}_`;
  });
  return out;
}

const TITLE_TYPE: ColumnType = {
  kind: 'text',
  allowMultipleLines: false,
  maxLength: 255,
  textType: 'plain',
  linesForEditing: 0,
  appendChangesToExistingText: false,
};

function systemColumn(
  name: string,
  displayName: string,
  role: SystemRole,
  options: { hidden?: boolean; indexed?: boolean } = {},
): ColumnDefinition {
  return {
    id: newGuid(),
    name,
    displayName,
    description: '',
    columnGroup: options.hidden ? '_Hidden' : 'Base Columns',
    hidden: options.hidden ?? false,
    indexed: options.indexed ?? false,
    readOnly: true,
    required: false,
    type: { kind: 'system', role },
  };
}

/** The columns a genericList starts with, in the order SharePoint lists them. */
export function genericListColumns(): ColumnDefinition[] {
  return [
    {
      id: newGuid(),
      name: 'Title',
      displayName: 'Title',
      description: '',
      columnGroup: 'Custom Columns',
      hidden: false,
      indexed: false,
      readOnly: false,
      required: true,
      type: TITLE_TYPE,
    },
    systemColumn('ComplianceAssetId', 'Compliance Asset Id', 'complianceAssetId', { hidden: true }),
    systemColumn('ID', 'ID', 'id', { indexed: true }),
    systemColumn('ContentType', 'Content Type', 'contentType'),
    systemColumn('Modified', 'Modified', 'modified'),
    systemColumn('Created', 'Created', 'created'),
    systemColumn('Author', 'Created By', 'author'),
    systemColumn('Editor', 'Modified By', 'editor'),
    systemColumn('_UIVersionString', 'Version', 'uiVersion'),
    systemColumn('Attachments', 'Attachments', 'attachments'),
    systemColumn('Edit', 'Edit', 'edit'),
    systemColumn('LinkTitleNoMenu', 'Title', 'linkTitleNoMenu'),
    systemColumn('LinkTitle', 'Title', 'linkTitle'),
    systemColumn('DocIcon', 'Type', 'docIcon'),
    systemColumn('ItemChildCount', 'Item Child Count', 'itemChildCount', { hidden: true }),
    systemColumn('FolderChildCount', 'Folder Child Count', 'folderChildCount', { hidden: true }),
    systemColumn('_ComplianceFlags', 'Label setting', 'complianceFlags', { hidden: true }),
    systemColumn('_ComplianceTag', 'Retention label', 'complianceTag', { hidden: true }),
    systemColumn('_ComplianceTagWrittenTime', 'Retention label Applied', 'complianceTagWrittenTime', {
      hidden: true,
    }),
    systemColumn('_ComplianceTagUserId', 'Label applied by', 'complianceTagUserId', { hidden: true }),
    systemColumn('AppAuthor', 'App Created By', 'appAuthor', { hidden: true }),
    systemColumn('AppEditor', 'App Modified By', 'appEditor', { hidden: true }),
  ];
}

const decimalPlacesSchema = z.union([
  z.enum(['automatic', ...DECIMAL_PLACES]),
  z.number().int().min(0).max(5),
]);

/** The body of `POST …/columns` and of each entry of `columns` in `POST …/lists`. */
export const columnCreateSchema = z.object({
  name: z.string().min(1).max(255).optional(),
  displayName: z.string().min(1).max(255).optional(),
  description: z.string().optional(),
  columnGroup: z.string().optional(),
  enforceUniqueValues: z.boolean().optional(),
  hidden: z.boolean().optional(),
  indexed: z.boolean().optional(),
  readOnly: z.boolean().optional(),
  required: z.boolean().optional(),
  text: z
    .object({
      allowMultipleLines: z.boolean().optional(),
      appendChangesToExistingText: z.boolean().optional(),
      linesForEditing: z.number().int().min(0).optional(),
      maxLength: z.number().int().min(1).max(255).optional(),
      textType: z.enum(['plain', 'richText']).optional(),
    })
    .optional(),
  number: z
    .object({
      decimalPlaces: decimalPlacesSchema.optional(),
      displayAs: z.enum(['number', 'percentage']).optional(),
      maximum: z.number().optional(),
      minimum: z.number().optional(),
    })
    .optional(),
  currency: z.object({ locale: z.string().optional() }).optional(),
  dateTime: z
    .object({
      format: z.enum(['dateOnly', 'dateTime']).optional(),
      displayAs: z.enum(['default', 'friendly', 'standard']).optional(),
    })
    .optional(),
  boolean: z.object({}).optional(),
  // Exactly the documented choiceColumn (https://learn.microsoft.com/en-us/graph/api/resources/choicecolumn):
  // a multi-choice column is `displayAs: "checkBoxes"`; Graph has no other multi-select property, so
  // invented ones (allowMultipleValues, allowMultipleSelection…) are refused, not ignored.
  choice: z
    .object({
      choices: z.array(z.string().min(1)).min(1),
      allowTextEntry: z.boolean().optional(),
      displayAs: z.enum(['dropDownMenu', 'radioButtons', 'checkBoxes']).optional(),
    })
    .strict()
    .optional(),
  lookup: z
    .object({
      listId: z.string().min(1),
      columnName: z.string().min(1).optional(),
      allowMultipleValues: z.boolean().optional(),
      allowUnlimitedLength: z.boolean().optional(),
      primaryLookupColumnId: z.string().optional(),
    })
    .optional(),
  personOrGroup: z
    .object({
      allowMultipleSelection: z.boolean().optional(),
      chooseFromType: z.enum(['peopleOnly', 'peopleAndGroups']).optional(),
      displayAs: z.string().optional(),
    })
    .optional(),
  calculated: z
    .object({
      formula: z.string().min(1),
      outputType: z.enum(['boolean', 'currency', 'dateTime', 'number', 'text']).optional(),
      format: z.enum(['dateOnly', 'dateTime']).optional(),
    })
    .optional(),
  hyperlinkOrPicture: z.object({ isPicture: z.boolean().optional() }).optional(),
});

export type ColumnCreateBody = z.infer<typeof columnCreateSchema>;

const TYPE_FACETS = [
  'text',
  'number',
  'currency',
  'dateTime',
  'boolean',
  'choice',
  'lookup',
  'personOrGroup',
  'calculated',
  'hyperlinkOrPicture',
] as const;

/** What column creation needs to know about the rest of the site. */
export interface ColumnCreationScope {
  existing: ColumnDefinition[];
  /** Columns of another list in the same site (lookup targets); undefined when there is no such list. */
  columnsOfList(listId: string): ColumnDefinition[] | undefined;
}

function decimalPlacesFrom(value: z.infer<typeof decimalPlacesSchema> | undefined): number | null {
  if (value === undefined || value === 'automatic') return null;
  if (typeof value === 'number') return value;
  return DECIMAL_PLACES.indexOf(value);
}

function typeFrom(body: ColumnCreateBody, scope: ColumnCreationScope): ColumnType {
  const facets = TYPE_FACETS.filter((facet) => body[facet] !== undefined);
  if (facets.length !== 1)
    throw badRequest(
      facets.length === 0
        ? `A column needs one type facet (${TYPE_FACETS.join(', ')})`
        : `A column can have only one type facet, got ${facets.join(', ')}`,
    );
  if (body.text) {
    const multi = body.text.allowMultipleLines ?? false;
    return {
      kind: 'text',
      allowMultipleLines: multi,
      maxLength: multi ? 0 : (body.text.maxLength ?? 255),
      textType: body.text.textType ?? 'plain',
      linesForEditing: body.text.linesForEditing ?? (multi ? 6 : 0),
      // Only a multi-line (Note) column appends. Sending the property at all, even `false`, is reported to make
      // it append (https://github.com/microsoftgraph/microsoft-graph-docs/issues/20863, …/issues/20861): a plain
      // multi-line column is created by leaving it out, as provision does.
      appendChangesToExistingText: multi && body.text.appendChangesToExistingText !== undefined,
    };
  }
  if (body.number) {
    const { minimum, maximum } = body.number;
    if (minimum !== undefined && maximum !== undefined && minimum > maximum)
      throw badRequest('number.minimum is greater than number.maximum');
    return {
      kind: 'number',
      decimalPlaces: decimalPlacesFrom(body.number.decimalPlaces),
      minimum: minimum ?? null,
      maximum: maximum ?? null,
      displayAs: body.number.displayAs ?? 'number',
    };
  }
  if (body.currency) return { kind: 'currency', locale: body.currency.locale ?? 'en-US' };
  if (body.dateTime)
    return {
      kind: 'dateTime',
      format: body.dateTime.format ?? 'dateTime',
      displayAs: body.dateTime.displayAs ?? 'default',
    };
  if (body.boolean) return { kind: 'boolean' };
  if (body.choice) {
    if (new Set(body.choice.choices).size !== body.choice.choices.length)
      throw badRequest('choice.choices contains duplicates');
    return {
      kind: 'choice',
      choices: body.choice.choices,
      allowTextEntry: body.choice.allowTextEntry ?? false,
      displayAs: body.choice.displayAs ?? 'dropDownMenu',
    };
  }
  if (body.lookup) {
    const target = scope.columnsOfList(body.lookup.listId);
    if (!target) throw badRequest(`lookup.listId '${body.lookup.listId}' is not a list of this site`);
    const columnName = body.lookup.columnName ?? 'Title';
    if (!target.some((c) => c.name === columnName))
      throw badRequest(`lookup.columnName '${columnName}' is not a column of list '${body.lookup.listId}'`);
    return {
      kind: 'lookup',
      listId: body.lookup.listId,
      columnName,
      allowMultipleValues: body.lookup.allowMultipleValues ?? false,
    };
  }
  if (body.personOrGroup)
    return {
      kind: 'personOrGroup',
      allowMultipleSelection: body.personOrGroup.allowMultipleSelection ?? false,
      chooseFromType: body.personOrGroup.chooseFromType ?? 'peopleOnly',
      displayAs: body.personOrGroup.displayAs ?? 'account',
    };
  if (body.calculated) {
    let references: string[];
    try {
      references = compileFormula(body.calculated.formula).references;
    } catch (error) {
      if (error instanceof FormulaError) throw badRequest(`calculated.formula: ${error.message}`);
      throw error;
    }
    for (const ref of references) {
      if (!scope.existing.some((c) => c.name === ref || c.displayName === ref))
        throw badRequest(`calculated.formula refers to [${ref}], which is not a column of this list`);
    }
    return {
      kind: 'calculated',
      formula: body.calculated.formula,
      outputType: body.calculated.outputType ?? 'text',
      format: body.calculated.format ?? null,
    };
  }
  return { kind: 'hyperlinkOrPicture', isPicture: body.hyperlinkOrPicture?.isPicture ?? false };
}

/** Builds a new user column; 409 nameAlreadyExists when a visible column has that display name. */
export function createColumn(raw: unknown, scope: ColumnCreationScope): ColumnDefinition {
  const parsed = columnCreateSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw badRequest(`Invalid column definition at '${issue.path.join('.')}': ${issue.message}`);
  }
  const body = parsed.data;
  if (!body.name && !body.displayName) throw badRequest('A column needs a name or a displayName');
  if (body.enforceUniqueValues)
    throw badRequest('enforceUniqueValues is not supported by the emulator: leave it false');
  const displayName = body.displayName ?? body.name!;
  if (scope.existing.some((c) => !c.hidden && c.displayName.toLowerCase() === displayName.toLowerCase()))
    throw new GraphError(
      409,
      'nameAlreadyExists',
      `A column named '${displayName}' already exists in this list`,
    );
  // SharePoint cuts an internal name to its first 32 characters, escapes included
  // (http://benhuang.blogspot.com/2009/08/32-character-limit-in-sharepoint-lists.html:
  // "KSNF_x0020_WebPart_x0020_Update_"), and keeps names unique by appending a digit (Author → Author0).
  const base = toInternalName(body.name ?? displayName).slice(0, MAX_INTERNAL_NAME_LENGTH);
  let name = base;
  for (let n = 0; scope.existing.some((c) => c.name.toLowerCase() === name.toLowerCase()); n++)
    name = `${base}${n}`;
  return {
    id: newGuid(),
    name,
    displayName,
    description: body.description ?? '',
    columnGroup: body.columnGroup ?? 'Custom Columns',
    hidden: body.hidden ?? false,
    indexed: body.indexed ?? false,
    readOnly: body.readOnly ?? false,
    required: body.required ?? false,
    type: typeFrom(body, scope),
  };
}

function facetOf(type: ColumnType): [string, Record<string, unknown>] | undefined {
  switch (type.kind) {
    case 'text':
      return [
        'text',
        {
          allowMultipleLines: type.allowMultipleLines,
          appendChangesToExistingText: type.appendChangesToExistingText,
          linesForEditing: type.linesForEditing,
          maxLength: type.maxLength,
          ...(type.allowMultipleLines ? { textType: type.textType } : {}),
        },
      ];
    case 'number':
      return [
        'number',
        {
          decimalPlaces: type.decimalPlaces === null ? 'automatic' : DECIMAL_PLACES[type.decimalPlaces],
          displayAs: type.displayAs,
          maximum: type.maximum ?? 1.7976931348623157e308,
          minimum: type.minimum ?? -1.7976931348623157e308,
        },
      ];
    case 'currency':
      return ['currency', { locale: type.locale }];
    case 'dateTime':
      return ['dateTime', { displayAs: type.displayAs, format: type.format }];
    case 'boolean':
      return ['boolean', {}];
    case 'choice':
      return [
        'choice',
        { allowTextEntry: type.allowTextEntry, choices: type.choices, displayAs: type.displayAs },
      ];
    case 'lookup':
      return [
        'lookup',
        {
          allowMultipleValues: type.allowMultipleValues,
          allowUnlimitedLength: false,
          columnName: type.columnName,
          listId: type.listId,
        },
      ];
    case 'personOrGroup':
      return [
        'personOrGroup',
        {
          allowMultipleSelection: type.allowMultipleSelection,
          chooseFromType: type.chooseFromType,
          displayAs: type.displayAs,
        },
      ];
    case 'calculated':
      return [
        'calculated',
        { format: type.format ?? 'dateTime', formula: type.formula, outputType: type.outputType },
      ];
    case 'hyperlinkOrPicture':
      return ['hyperlinkOrPicture', { isPicture: type.isPicture }];
    case 'system':
      switch (type.role) {
        case 'id':
          return ['number', { decimalPlaces: 'none', displayAs: 'number' }];
        case 'created':
        case 'modified':
          return ['dateTime', { displayAs: 'default', format: 'dateTime' }];
        case 'author':
        case 'editor':
          return [
            'personOrGroup',
            {
              allowMultipleSelection: false,
              chooseFromType: 'peopleAndGroups',
              displayAs: 'nameWithPresence',
            },
          ];
        case 'uiVersion':
          return ['text', { allowMultipleLines: false, maxLength: 255 }];
        case 'attachments':
          return ['boolean', {}];
        default:
          // Computed system columns (Edit, LinkTitle, …) carry no type facet in Graph.
          return undefined;
      }
  }
}

/** A Graph columnDefinition object. */
export function renderColumn(column: ColumnDefinition): Record<string, unknown> {
  const facet = facetOf(column.type);
  return {
    columnGroup: column.columnGroup,
    description: column.description,
    displayName: column.displayName,
    enforceUniqueValues: false,
    hidden: column.hidden,
    id: column.id,
    indexed: column.indexed,
    name: column.name,
    readOnly: column.readOnly,
    required: column.required,
    ...(facet ? { [facet[0]]: facet[1] } : {}),
  };
}
