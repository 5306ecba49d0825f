'use strict';
// Memory per idle MQTT connection of the real registry process: starts the Release host (tests/sdk/lib), creates
// N devices, measures the host's RSS, opens N MQTT 3.1.1/TLS connections that CONNECT as those devices (mqtt.js, as
// the Node device SDK does) and stay idle, measures again: (RSS after - RSS before) / N.
// Run: NODE_PATH=tests/node/node_modules node loadtests/mqtt-idle-memory.js [N=1000]

const crypto = require('node:crypto');
const fs = require('node:fs');
const { setTimeout: delay } = require('node:timers/promises');
const mqtt = require('mqtt');

const { startRegistry } = require('../tests/sdk/lib/registry-process');
const { newKey, registryFor } = require('../tests/sdk/lib/sdk');

const count = Number(process.argv[2] ?? 1000);

function token(host, deviceId, key) {
  const sr = encodeURIComponent(`${host}/devices/${deviceId}`);
  const se = Math.floor(Date.now() / 1000) + 3600;
  const sig = crypto.createHmac('sha256', Buffer.from(key, 'base64')).update(`${sr}\n${se}`).digest('base64');
  return `SharedAccessSignature sr=${sr}&sig=${encodeURIComponent(sig)}&se=${se}`;
}

function rssKiB(pid) {
  return Number(/VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))[1]);
}

function connect(server, device) {
  return new Promise((resolve, reject) => {
    const client = mqtt.connect(`mqtts://${server.hostName}:${server.mqttPort}`, {
      clientId: device.deviceId,
      username: `${server.hostName}/${device.deviceId}/?api-version=2021-04-12`,
      password: token(server.hostName, device.deviceId, device.key),
      protocolVersion: 4,
      clean: false,
      keepalive: 180,
      reconnectPeriod: 0,
      ca: server.caPem,
    });
    client.once('connect', () => resolve(client));
    client.once('error', reject);
  });
}

(async () => {
  const server = await startRegistry({ address: '127.0.0.10' });
  const pid = server.process.child.pid;
  const clients = [];
  try {
    const registry = registryFor(server);
    const devices = Array.from({ length: count }, (_, i) => ({ deviceId: `idle-${i}`, key: newKey() }));
    for (let i = 0; i < devices.length; i += 100) {
      await registry.addDevices(devices.slice(i, i + 100).map((d) => ({
        deviceId: d.deviceId, authentication: { symmetricKey: { primaryKey: d.key, secondaryKey: newKey() } },
      })));
    }
    // Warm the path once (JIT, pools), then measure.
    const warm = await connect(server, devices[0]);
    warm.end(true);
    await delay(3000);
    const before = rssKiB(pid);
    for (let i = 0; i < devices.length; i += 50) {
      clients.push(...await Promise.all(devices.slice(i, i + 50).map((d) => connect(server, d))));
    }
    await delay(5000);
    const after = rssKiB(pid);
    console.log(JSON.stringify({ connections: clients.length, rssBeforeKiB: before, rssAfterKiB: after, kibPerConnection: +((after - before) / clients.length).toFixed(1) }));
  } finally {
    for (const c of clients) c.end(true);
    await server.stop();
  }
})().catch((e) => {
  console.error(e);
  process.exit(1);
});
