import * as m001 from './001_initial';
import * as m006 from './006_shared_budget';

export interface Migration {
  version: number;
  name: string;
  sql: string;
}

/** Migrations in order. A migration, once released, is never edited: add the next number instead. */
export const migrations: Migration[] = [
  { version: 1, ...m001 },
  { version: 6, ...m006 },
];
