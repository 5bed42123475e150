// The kafkajs driver of the client compatibility matrix (the contract: tests/clients/README.md).
//
//   node driver.js '<request JSON>'
//
// One action per run; the last stdout line is `RESULT <json>`. kafkajs takes its client id once,
// on the Kafka object, and every producer, consumer and admin made from that object sends it, so
// the driver makes one Kafka object per run. Everything else is kafkajs's default, except the
// request's SASL and `options` (spread verbatim over the Kafka object's configuration) and the
// logger: kafkajs's default one prints to stdout, where only the RESULT line belongs, so ours
// writes each log line to stderr and keeps the warnings and errors as the texts the application saw.
'use strict'

// kafkajs 2 warns once, on the first producer, that its default partitioner changed in 2.0; an
// application that never used 1.x has nothing to do about it, so it is not an error it "saw".
process.env.KAFKAJS_NO_PARTITIONER_WARNING = '1'

const { Kafka, logLevel } = require('kafkajs')
const { version } = require('kafkajs/package.json')

const LEVEL_NAMES = { [logLevel.ERROR]: 'ERROR', [logLevel.WARN]: 'WARN', [logLevel.INFO]: 'INFO', [logLevel.DEBUG]: 'DEBUG' }
const MAX_ERRORS = 5
const MAX_ERROR_CHARS = 300
// How long closing a client may take once the action is over (it is not part of the action).
const CLOSE_BOUND_MS = 5000

const req = JSON.parse(process.argv[2])
const errors = []

function seen(text) {
  const cut = String(text).slice(0, MAX_ERROR_CHARS)
  if (errors.length < MAX_ERRORS && !errors.includes(cut)) errors.push(cut)
}

function describe(e) {
  if (!(e instanceof Error)) return String(e)
  const cause = e.cause ? ` (cause: ${describe(e.cause)})` : ''
  return `${e.name}: ${e.message}${cause}`
}

function logCreator() {
  return ({ namespace, level, log }) => {
    const { message, timestamp, logger, stack, ...extra } = log
    const name = LEVEL_NAMES[level] ?? level
    process.stderr.write(`${timestamp} ${name} [${namespace}] ${message} ${JSON.stringify(extra)}\n`)
    if (level === logLevel.ERROR || level === logLevel.WARN) {
      seen(`[${namespace}] ${message}${extra.error ? `: ${extra.error}` : ''}`)
    }
  }
}

// A library promise that never settles must not hold the driver past its bound. The driver's own
// deadline is not something the application saw: `observe` leaves these out of `errors`.
class Deadline extends Error {}

function within(promise, ms, what) {
  let timer
  const late = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Deadline(`${what} did not finish within ${(ms / 1000).toFixed(1)} s`)), ms)
  })
  return Promise.race([promise, late]).finally(() => clearTimeout(timer))
}

const sleep = ms => new Promise(resolve => setTimeout(resolve, ms))

async function close(client, what) {
  try {
    await within(client.disconnect(), CLOSE_BOUND_MS, `${what} disconnect`)
  } catch (e) {
    process.stderr.write(`closing the ${what}: ${describe(e)}\n`)
  }
}

function kafka() {
  const config = { clientId: req.client_id, brokers: [req.bootstrap], logCreator }
  if (req.sasl) {
    config.sasl = { mechanism: req.sasl.mechanism.toLowerCase(), username: req.sasl.username, password: req.sasl.password }
  }
  return new Kafka({ ...config, ...req.options })
}

async function metadata(deadlineMs) {
  const admin = kafka().admin()
  try {
    await within(admin.connect(), deadlineMs - Date.now(), 'admin connect')
    const cluster = await within(admin.describeCluster(), deadlineMs - Date.now(), 'describeCluster')
    const brokers = cluster.brokers.map(b => `${b.host}:${b.port}`).sort()
    return { ok: true, brokers, cluster_id: cluster.clusterId ?? null }
  } catch (e) {
    return { ok: false, error: describe(e), brokers: [], cluster_id: null }
  } finally {
    await close(admin, 'admin')
  }
}

async function produce(deadlineMs) {
  const producer = kafka().producer()
  const messages = Array.from({ length: req.count }, (_, i) => ({ key: `k${i}`, value: `v${i}` }))
  try {
    await within(producer.connect(), deadlineMs - Date.now(), 'producer connect')
    // One send of every record; it resolves when the partition leader acknowledged them all
    // (kafkajs's default acks is -1, all in-sync replicas).
    await within(producer.send({ topic: req.topic, messages }), deadlineMs - Date.now(), 'send')
    return { ok: true, produced: messages.length }
  } catch (e) {
    return { ok: false, error: describe(e), produced: 0 }
  } finally {
    await close(producer, 'producer')
  }
}

async function consume(deadlineMs) {
  const consumer = kafka().consumer({ groupId: req.group })
  const values = []
  let last = null
  let committed = false
  let reached
  const enough = new Promise(resolve => { reached = resolve })
  try {
    await within(consumer.connect(), deadlineMs - Date.now(), 'consumer connect')
    await within(consumer.subscribe({ topics: [req.topic], fromBeginning: true }), deadlineMs - Date.now(), 'subscribe')
    // autoCommit off: kafkajs would otherwise commit every record it handed to eachMessage,
    // including those of the fetched batch past `count`; we commit exactly after the last one read.
    await within(consumer.run({
      autoCommit: false,
      eachMessage: async ({ topic, partition, message }) => {
        if (values.length >= req.count) return
        values.push(message.value === null ? null : message.value.toString())
        last = { topic, partition, offset: message.offset }
        if (values.length >= req.count) {
          consumer.pause([{ topic }])
          reached()
        }
      },
    }), deadlineMs - Date.now(), 'consumer run')
    await within(enough, deadlineMs - Date.now(), `reading ${req.count} records`).catch(() => {})
    if (last !== null) {
      const next = (BigInt(last.offset) + 1n).toString()
      await within(consumer.commitOffsets([{ topic: last.topic, partition: last.partition, offset: next }]),
        Math.max(deadlineMs - Date.now(), CLOSE_BOUND_MS), 'commitOffsets')
      committed = true
    }
    if (values.length === req.count) return { ok: true, values, committed }
    return { ok: false, error: `read ${values.length} of ${req.count} records in time`, values, committed }
  } catch (e) {
    return { ok: false, error: describe(e), values, committed }
  } finally {
    await close(consumer, 'consumer')
  }
}

// `fatal` for kafkajs: the library gave up on its own. connect() retries `retry.retries` times (5
// by default, backing off from 300 ms to about 10 s in all), then rejects, as it does at once for
// some errors; so may a consumer's subscribe(), which fetches metadata: an application that awaits
// them at start, as kafkajs's examples do, stops there (a producer's failed send() is one record's
// error, not fatal). A running consumer gives up with a CRASH event whose `restart` is false. The
// driver records either, then carries on like a supervisor that starts the application again, so
// the reconnect rate is still measured over the whole window.
async function observe(deadlineMs) {
  const client = kafka()
  let delivered = 0
  let fatal = false
  const left = () => Math.max(deadlineMs - Date.now(), 1)
  const note = e => { if (!(e instanceof Deadline)) seen(describe(e)) }
  const connectOrNote = async (c, what) => {
    try {
      await within(c.connect(), left(), `${what} connect`)
      return true
    } catch (e) {
      note(e)
      if (!(e instanceof Deadline)) fatal = true
      return false
    }
  }
  if (req.role === 'producer') {
    const producer = client.producer()
    let connected = await connectOrNote(producer, 'producer')
    for (let i = 0; Date.now() < deadlineMs; i++) {
      const started = Date.now()
      if (!connected) connected = await connectOrNote(producer, 'producer')
      if (connected && Date.now() < deadlineMs) {
        try {
          await within(producer.send({ topic: req.topic, messages: [{ key: `k${i}`, value: `v${i}` }] }), left(), 'send')
          delivered += 1
        } catch (e) {
          note(e)
        }
      }
      await sleep(Math.min(Math.max(1000 - (Date.now() - started), 0), left()))
    }
    await close(producer, 'producer')
  } else {
    const consumer = client.consumer({ groupId: req.group })
    consumer.on(consumer.events.CRASH, ({ payload }) => {
      seen(`crash: ${describe(payload.error)}`)
      if (!payload.restart) fatal = true
    })
    let running = false
    while (!running && Date.now() < deadlineMs) {
      if (await connectOrNote(consumer, 'consumer')) {
        try {
          await within(consumer.subscribe({ topics: [req.topic], fromBeginning: true }), left(), 'subscribe')
          await within(consumer.run({ eachMessage: async () => { delivered += 1 } }), left(), 'consumer run')
          running = true
        } catch (e) {
          note(e)
          if (!(e instanceof Deadline)) fatal = true
        }
      }
      if (!running) await sleep(Math.min(1000, left()))
    }
    await sleep(left())
    await close(consumer, 'consumer')
  }
  return { ok: true, errors, delivered, fatal }
}

const ACTIONS = { metadata, produce, consume, observe }

async function main() {
  // Like any application, the driver must outlive a stray rejection inside the library.
  process.on('unhandledRejection', e => seen(`unhandled rejection: ${describe(e)}`))
  const action = ACTIONS[req.action]
  if (!action) throw new Error(`unknown action ${JSON.stringify(req.action)}`)
  const result = await action(Date.now() + req.timeout_s * 1000)
  const line = `RESULT ${JSON.stringify({ library: 'kafkajs', version, ...result, errors: result.errors ?? errors })}\n`
  // Exit at once: a client that ignored its disconnect may still hold timers or sockets.
  process.stdout.write(line, () => process.exit(0))
}

main().catch(e => {
  process.stderr.write(`driver bug: ${e.stack}\n`)
  process.exit(2)
})
