// `ferrite-audio/queue` (CommonJS): jobs on a BullMQ queue (ts/queue.ts).
'use strict'
module.exports = require('./ts/queue.js')
