/**
 * Names of what an LSN definition owns on its source server. Replication slots and replication origins are
 * cluster-wide, so two metadata databases (two deployments, or a test database beside production) syncing
 * tables of one Postgres server must never share a name: every name carries the metadata database's
 * installation id (arcore.installation, migration 009) and the definition's id, which never changes when the
 * definition is renamed. The definition's name follows only as a hint for operators reading
 * pg_replication_slots; it is cut to fit.
 */

/** Postgres identifiers (slot names included) are at most 63 bytes. */
export const MAX_NAME_LENGTH = 63;
const PREFIX = 'arcore';
/** Enough of the installation id that two installations on one server do not collide (48 bits). */
const INSTALLATION_CHARS = 12;

export interface LsnNames {
  /** Logical replication slot (pgoutput), cluster-wide. */
  slot: string;
  /** Publication of the definition's table, in the source database. */
  publication: string;
  /** Replication origin marking the pull's own writes, cluster-wide. */
  origin: string;
}

export class LsnNameError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'LsnNameError';
  }
}

function slug(text: string): string {
  return text
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '_')
    .replace(/^_+|_+$/g, '');
}

/**
 * `installationId`: arcore.installation.id of the metadata database; `definitionId`: sync_definitions.id;
 * `definitionName`: the hint. Every name matches [a-z0-9_]{1,63}.
 */
export function lsnNames(installationId: string, definitionId: string, definitionName: string): LsnNames {
  const installation = slug(installationId).replace(/_/g, '').slice(0, INSTALLATION_CHARS);
  if (installation.length < INSTALLATION_CHARS)
    throw new LsnNameError(`installation id "${installationId}" is too short to name replication slots`);
  if (!/^[0-9]+$/.test(definitionId))
    throw new LsnNameError(`definition id "${definitionId}" is not a number`);
  const base = `${PREFIX}_${installation}_${definitionId}`;
  const room = MAX_NAME_LENGTH - base.length - 1;
  const hint = slug(definitionName).slice(0, Math.max(0, room)).replace(/_+$/, '');
  const slot = hint.length > 0 ? `${base}_${hint}` : base;
  return { slot, publication: slot, origin: slot };
}

/**
 * True when `slot` was named by lsnNames for this installation: operations that list the server's slots use it
 * to recognise their own and never touch another installation's.
 */
export function isOwnSlot(installationId: string, slot: string): boolean {
  const installation = slug(installationId).replace(/_/g, '').slice(0, INSTALLATION_CHARS);
  return slot.startsWith(`${PREFIX}_${installation}_`);
}
