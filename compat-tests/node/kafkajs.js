// KafkaJS against gokafkad: admin, idempotent produce with headers, a
// consumer group, committed offsets. Exits non-zero on any mismatch.
const { Kafka, logLevel } = require('kafkajs')

const [addr, topic, group] = process.argv.slice(2)
const N = 40
const kafka = new Kafka({ brokers: [addr], logLevel: logLevel.ERROR, clientId: 'compat' })

function check (cond, what) {
  if (!cond) { console.log('FAIL:', what); process.exit(1) }
}

;(async () => {
  const admin = kafka.admin()
  await admin.connect()
  await admin.createTopics({ topics: [{ topic, numPartitions: 2 }], waitForLeaders: true })
  check((await admin.listTopics()).includes(topic), 'topic listed')

  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 })
  await producer.connect()
  const messages = []
  for (let i = 0; i < N; i++) messages.push({ key: 'k' + i, value: 'v' + i, headers: { h: String(i) } })
  const res = await producer.send({ topic, messages, acks: -1 })
  check(res.every(r => r.errorCode === 0), 'produce errors ' + JSON.stringify(res))

  const consumer = kafka.consumer({ groupId: group })
  await consumer.connect()
  await consumer.subscribe({ topic, fromBeginning: true })
  const seen = new Set()
  await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('timed out with ' + seen.size)), 30000)
    consumer.run({
      eachMessage: async ({ message }) => {
        const k = message.key.toString()
        check(message.value.toString() === 'v' + k.slice(1), 'value matches key')
        check(message.headers.h.toString() === k.slice(1), 'header')
        seen.add(k)
        if (seen.size === N) { clearTimeout(timer); resolve() }
      }
    })
  })
  await consumer.disconnect()
  await producer.disconnect()
  const offsets = await admin.fetchOffsets({ groupId: group, topics: [topic] })
  const sum = offsets[0].partitions.reduce((s, p) => s + Number(p.offset), 0)
  check(sum === N, 'committed offsets sum to ' + sum)
  await admin.disconnect()
  console.log('OK kafkajs', N)
})().catch(e => { console.log('FAIL:', e); process.exit(1) })
