'use strict';
// The official device SDK over MQTT (azure-iot-device 1.18.4 + azure-iot-device-mqtt 1.16.4), unmodified: a device
// connects with its connection string (GatewayHostName=<host>:<port> because the registry's MQTT port here is not
// 8883, docs/wire-contract.md §0), sends telemetry and a heartbeat, and closes; the registry shows it Connected while
// open and Disconnected after. A wrong key and a disabled device are refused with UnauthorizedError (CONNACK 5).
// This file's registry: 127.0.0.9 with HostName=127.0.0.9 (see lib/registry-process.js).

const { describe, test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { setTimeout: delay } = require('node:timers/promises');

const { Client, Message } = require('azure-iot-device');
const { Mqtt } = require('azure-iot-device-mqtt');

const { startRegistry } = require('./lib/registry-process');
const { uniqueId, newKey, registryFor } = require('./lib/sdk');

describe('Devices over MQTT (azure-iot-device-mqtt)', { timeout: 180_000 }, () => {
  let server;
  let registry;

  before(async () => {
    server = await startRegistry({ address: '127.0.0.9' });
    registry = registryFor(server);
  });

  after(async () => {
    await server?.stop();
  });

  async function newDevice(prefix, status = 'enabled') {
    const deviceId = uniqueId(prefix);
    const key = newKey();
    await registry.create({ deviceId, status, authentication: { symmetricKey: { primaryKey: key, secondaryKey: newKey() } } });
    return { deviceId, key };
  }

  function deviceClient(deviceId, key) {
    const cs = `HostName=${server.hostName};DeviceId=${deviceId};SharedAccessKey=${key};GatewayHostName=${server.hostName}:${server.mqttPort}`;
    return Client.fromConnectionString(cs, Mqtt);
  }

  async function connectionState(deviceId) {
    return (await registry.get(deviceId)).responseBody.connectionState;
  }

  /** The registry records the end of a session once the server has seen the socket close: ask until it has. */
  async function eventually(read, expected) {
    let value;
    for (let i = 0; i < 200; i++) {
      value = await read();
      if (value === expected) return value;
      await delay(50);
    }
    return value;
  }

  async function openRejection(client) {
    try {
      await client.open();
    } catch (error) {
      return error;
    } finally {
      await client.close().catch(() => {});
    }
    assert.fail('open() succeeded');
  }

  test('a device opens, sends telemetry and a heartbeat, shows Connected while open and Disconnected after close', async () => {
    const { deviceId, key } = await newDevice('mqtt-dev');
    const client = deviceClient(deviceId, key);

    await client.open();
    const telemetry = new Message(JSON.stringify({ temperature: 21.5 }));
    telemetry.messageId = 'msg-1';
    telemetry.contentType = 'application/json';
    telemetry.contentEncoding = 'utf-8';
    telemetry.properties.add('alert', 'high');
    await client.sendEvent(telemetry);
    const heartbeat = new Message('');
    heartbeat.properties.add('heartbeat', '1');
    await client.sendEvent(heartbeat);
    const whileOpen = (await registry.get(deviceId)).responseBody;
    await client.close();

    assert.equal(whileOpen.connectionState, 'Connected');
    assert.notEqual(whileOpen.lastActivityTime, '0001-01-01T00:00:00Z');
    assert.equal(await eventually(() => connectionState(deviceId), 'Disconnected'), 'Disconnected');
  });

  test('a device token signed with the wrong key is refused with UnauthorizedError', async () => {
    const { deviceId } = await newDevice('mqtt-badkey');

    const error = await openRejection(deviceClient(deviceId, newKey()));

    assert.equal(error.constructor.name, 'UnauthorizedError', `${error.name}: ${error.message}`);
    assert.equal(await connectionState(deviceId), 'Disconnected');
  });

  test('a disabled device is refused with UnauthorizedError', async () => {
    const { deviceId, key } = await newDevice('mqtt-disabled', 'disabled');

    const error = await openRejection(deviceClient(deviceId, key));

    assert.equal(error.constructor.name, 'UnauthorizedError', `${error.name}: ${error.message}`);
    assert.equal(await connectionState(deviceId), 'Disconnected');
  });
});
