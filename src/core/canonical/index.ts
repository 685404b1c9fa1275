export type {
  CanonicalRecord,
  CanonicalScalar,
  CanonicalValue,
  FieldKind,
  MappedColumn,
  PgColumnInfo,
  PgEnumInfo,
  SpColumnInfo,
  SpColumnType,
} from './types';
export { FIELD_KINDS, pgColumnInfoSchema, spColumnInfoSchema, spColumnTypeSchema } from './types';
export {
  CanonicalValueError,
  IdentityKeyError,
  MalformedGraphFieldsError,
  UnmappedFieldError,
  UnsupportedMappingError,
} from './errors';
export { pgTypeParsers } from './pgTypes';
export {
  describePgType,
  fieldKindFor,
  missingEnumChoices,
  spColumnTypeForProvisioning,
  type ProvisioningFacet,
} from './fieldKind';
export { fromGraphValue, toCanonical } from './toCanonical';
export { DEFAULT_SITE_TIME_ZONE, isKnownTimeZone, offsetSecondsAt, siteNoonOf } from './siteTimeZone';
export {
  fromGraphFields,
  graphFieldKey,
  isWritableSharePointField,
  SHAREPOINT_SYSTEM_FIELDS,
  toGraphFields,
} from './toGraph';
export { enumTypeName, pgCastFor, toPgParam } from './toPostgres';
export { contentHash, identityOf, stableStringify } from './hash';
export { canonicalEquals } from './equality';
