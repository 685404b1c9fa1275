export { lsnNames, isOwnSlot, type LsnNames } from './names';
export { parseLsnCursor, readLsnCursor, type LsnCursor } from './cursor';
export { runLsnCapture, namesFor } from './push';
export { leaveCapture } from './leave';
export { markOwnWrites, unmarkOwnWrites, OriginPrivilegeError } from './origin';
export { decideTruncate, openTruncates, type TruncateDecision, type TruncateRecord } from './truncates';
