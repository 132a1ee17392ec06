// `ferrite-audio/queue`: jobs on a BullMQ queue (ts/queue.ts).
export * from './ts/queue'
