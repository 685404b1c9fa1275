export type {
  CanonicalRecord,
  CanonicalScalar,
  CanonicalValue,
  FieldKind,
  MappedColumn,
  PgColumnInfo,
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
  spColumnTypeForProvisioning,
  type ProvisioningFacet,
} from './fieldKind';
export { fromGraphValue, toCanonical } from './toCanonical';
export {
  fromGraphFields,
  graphFieldKey,
  isWritableSharePointField,
  SHAREPOINT_SYSTEM_FIELDS,
  toGraphFields,
} from './toGraph';
export { pgCastFor, toPgParam } from './toPostgres';
export { contentHash, identityOf, stableStringify } from './hash';
export { canonicalEquals } from './equality';
