import * as m001 from './001_initial';
import * as m002 from './002_abandoned_runs';
import * as m003 from './003_conflict_fields';
import * as m006 from './006_shared_budget';
import * as m007 from './007_definition_evolution';
import * as m008 from './008_pull_run_type';
import * as m009 from './009_lsn_capture';
import * as m010 from './010_slot_retirement';
import * as m011 from './011_routing';
import * as m013 from './013_synced_source_values';
import * as m014 from './014_backfills';
import * as m015 from './015_idle_path';
import * as m016 from './016_idle_checks';
import * as m018 from './018_move_phase';
import * as m019 from './019_owed_delete_comparison';
import * as m020 from './020_pull_idle_checks';
import * as m021 from './021_pull_insert_intents';
import * as m022 from './022_pull_intent_source';
import * as m023 from './023_pull_intent_timeline';
import * as m025 from './025_pending_create_checked';
import * as m026 from './026_move_sent_values';
import * as m027 from './027_item_deleted_state';
import * as m028 from './028_backfill_pipelines';
import * as m029 from './029_item_deleted_unpaired';
import * as m031 from './031_held_moves';
import * as m035 from './035_pull_message_sent';
import * as m037 from './037_daily_budget';
import * as m040 from './040_date_zone_realign';
import * as m041 from './041_capture_shape';
import * as m046 from './046_key_kinds';
import * as m047 from './047_capture_source';
import * as m048 from './048_column_shape';
import * as m049 from './049_copy_conflict_list';

export interface Migration {
  version: number;
  name: string;
  sql: string;
}

/** Migrations in order. A migration, once released, is never edited: add the next number instead. */
export const migrations: Migration[] = [
  { version: 1, ...m001 },
  { version: 2, ...m002 },
  { version: 3, ...m003 },
  { version: 6, ...m006 },
  { version: 7, ...m007 },
  { version: 8, ...m008 },
  { version: 9, ...m009 },
  { version: 10, ...m010 },
  { version: 11, ...m011 },
  { version: 13, ...m013 },
  { version: 14, ...m014 },
  { version: 15, ...m015 },
  { version: 16, ...m016 },
  { version: 18, ...m018 },
  { version: 19, ...m019 },
  { version: 20, ...m020 },
  { version: 21, ...m021 },
  { version: 22, ...m022 },
  { version: 23, ...m023 },
  { version: 25, ...m025 },
  { version: 26, ...m026 },
  { version: 27, ...m027 },
  { version: 28, ...m028 },
  { version: 29, ...m029 },
  { version: 31, ...m031 },
  { version: 35, ...m035 },
  { version: 37, ...m037 },
  { version: 40, ...m040 },
  { version: 41, ...m041 },
  { version: 46, ...m046 },
  { version: 47, ...m047 },
  { version: 48, ...m048 },
  { version: 49, ...m049 },
];
