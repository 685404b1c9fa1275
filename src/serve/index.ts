export { startLocalHost, type LocalHost, type LocalHostOptions } from './localHost';
export {
  LocalQueue,
  type LocalQueueOptions,
  type QueuedWork,
  type QueueSnapshot,
  type WorkKind,
} from './localQueue';
