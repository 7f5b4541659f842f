// KafkaJS against gokafkad: admin, idempotent produce with headers, a
// consumer group, committed offsets, then the admin calls of a KafkaJS
// user: configs, partitions, offsets by time, delete records, group
// offsets. Exits non-zero on any mismatch.
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

  // Topic configs: set one, read it back with its source.
  const { ConfigResourceTypes } = require('kafkajs')
  await admin.alterConfigs({ resources: [{ type: ConfigResourceTypes.TOPIC, name: topic, configEntries: [{ name: 'retention.ms', value: '3600000' }] }] })
  const described = await admin.describeConfigs({ resources: [{ type: ConfigResourceTypes.TOPIC, name: topic, configNames: ['retention.ms'] }], includeSynonyms: false })
  const entry = described.resources[0].configEntries[0]
  check(entry.configValue === '3600000' && !entry.isDefault, 'retention.ms ' + JSON.stringify(entry))
  // KafkaJS: TOPIC_ALREADY_EXISTS is not an error; createTopics resolves
  // false (true would mean the broker said it created the topic again).
  let again
  try {
    again = await admin.createTopics({ topics: [{ topic, numPartitions: 1 }] })
  } catch (e) { again = e }
  check(again === false, 'createTopics of an existing topic resolves false, got ' + again)

  // More partitions; offsets by time; delete records.
  await admin.createPartitions({ topicPartitions: [{ topic, count: 3 }] })
  const md = await admin.fetchTopicMetadata({ topics: [topic] })
  check(md.topics[0].partitions.length === 3, 'partitions after createPartitions')
  const ends = await admin.fetchTopicOffsets(topic)
  const total = ends.reduce((s, p) => s + Number(p.high), 0)
  check(total === N, 'high watermarks sum to ' + total)
  const byTime = await admin.fetchTopicOffsetsByTimestamp(topic, Date.now() - 3600 * 1000)
  check(byTime.every(p => Number(p.offset) === 0), 'offsets an hour ago ' + JSON.stringify(byTime))
  const p0 = ends.find(p => p.partition === 0)
  await admin.deleteTopicRecords({ topic, partitions: [{ partition: 0, offset: '1' }] })
  const after = (await admin.fetchTopicOffsets(topic)).find(p => p.partition === 0)
  check(Number(after.low) === Math.min(1, Number(p0.high)), 'log start after deleteTopicRecords ' + JSON.stringify(after))

  // Group admin: describe, reset offsets while the group is empty, delete.
  const groups = await admin.describeGroups([group])
  check(groups.groups[0].state === 'Empty', 'group state ' + groups.groups[0].state)
  await admin.resetOffsets({ groupId: group, topic, earliest: true })
  const reset = await admin.fetchOffsets({ groupId: group, topics: [topic] })
  check(reset[0].partitions.every(p => Number(p.offset) <= 1), 'offsets after reset ' + JSON.stringify(reset))
  await admin.deleteGroups([group])
  check(!(await admin.listGroups()).groups.some(g => g.groupId === group), 'group deleted')
  await admin.deleteTopics({ topics: [topic] })
  check(!(await admin.listTopics()).includes(topic), 'topic deleted')
  await admin.disconnect()
  console.log('OK kafkajs', N)
})().catch(e => { console.log('FAIL:', e); process.exit(1) })
