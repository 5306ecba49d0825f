'use strict';
// Devices over HTTPS as the official device SDK (azure-iot-device + azure-iot-device-http) drives them: open, send
// telemetry (single and batch), send a heartbeat (an empty message with the `heartbeat` property), close; the registry
// shows the device's lastActivityTime fresh (an HTTPS device is never "Connected": only MQTT sessions change
// connectionState). A bad key and a disabled device are refused with UnauthorizedError.
// This file's registry: 127.0.0.8:443 with HostName=127.0.0.8 (see lib/registry-process.js).

const { describe, test, before, after } = require('node:test');
const assert = require('node:assert/strict');

const { Client, Message } = require('azure-iot-device');
const { Http } = require('azure-iot-device-http');
const { startRegistry } = require('./lib/registry-process');
const { common, uniqueId, newKey, registryFor } = require('./lib/sdk');

describe('Devices over HTTPS (azure-iot-device-http)', { timeout: 120_000 }, () => {
  let server;
  let owner;
  // Every client is closed at the end, refused ones included: an open client keeps its SAS renewal timer, and with
  // it this file's process, alive forever.
  const clients = [];

  before(async () => {
    server = await startRegistry({ address: '127.0.0.8' });
    owner = registryFor(server);
  });

  after(async () => {
    await Promise.allSettled(clients.map((client) => client.close()));
    await server?.stop();
  });

  async function newDevice(status = 'enabled') {
    const deviceId = uniqueId('http');
    const { responseBody } = await owner.create({ deviceId, status });
    return { deviceId, key: responseBody.authentication.symmetricKey.primaryKey };
  }

  /** A device client on the HTTPS transport that does not retry, so a refusal surfaces as the SDK's error at once. */
  function deviceClient(deviceId, key) {
    const client = Client.fromConnectionString(`HostName=${server.hostName};DeviceId=${deviceId};SharedAccessKey=${key}`, Http);
    client.setRetryPolicy(new common.NoRetry());
    clients.push(client);
    return client;
  }

  async function rejectsUnauthorized(promise) {
    await assert.rejects(promise, (error) => {
      assert.ok(error instanceof common.errors.UnauthorizedError, `expected UnauthorizedError, got ${error.name}: ${error.message}`);
      return true;
    });
  }

  test('open, send telemetry, a batch and a heartbeat, close: each answered, and GET shows lastActivityTime fresh', async () => {
    const { deviceId, key } = await newDevice();
    const { responseBody: created } = await owner.get(deviceId);
    assert.equal(created.lastActivityTime, '0001-01-01T00:00:00Z');
    const client = deviceClient(deviceId, key);
    const sentAfter = Date.now();

    await client.open();
    const telemetry = new Message(JSON.stringify({ temperature: 21.5 }));
    telemetry.messageId = 'msg-1';
    telemetry.correlationId = 'corr-1';
    telemetry.contentType = 'application/json';
    telemetry.contentEncoding = 'utf-8';
    telemetry.properties.add('alert', 'high');
    const sent = await client.sendEvent(telemetry);
    assert.equal(sent.transportObj.statusCode, 204);
    await client.sendEventBatch([new Message('a'), new Message('b')]);
    const heartbeat = new Message('');
    heartbeat.properties.add('heartbeat', 'true');
    await client.sendEvent(heartbeat);
    await client.close();

    const { responseBody: device } = await owner.get(deviceId);
    const lastActivity = Date.parse(device.lastActivityTime);
    // The registry's clock and this process's are the same machine's: "fresh" is "not before we sent".
    assert.ok(lastActivity >= sentAfter - 1, `lastActivityTime ${device.lastActivityTime} is older than the sends`);
    assert.ok(lastActivity <= Date.now(), `lastActivityTime ${device.lastActivityTime} is in the future`);
    assert.equal(device.connectionState, 'Disconnected');
    assert.equal(device.etag, created.etag, 'messages never change the identity ETag');
  });

  test('a connection string with a wrong key is refused with UnauthorizedError and records nothing', async () => {
    const { deviceId } = await newDevice();
    const client = deviceClient(deviceId, newKey());

    await rejectsUnauthorized(client.sendEvent(new Message('x')));

    const { responseBody: device } = await owner.get(deviceId);
    assert.equal(device.lastActivityTime, '0001-01-01T00:00:00Z');
  });

  test('a disabled device is refused with UnauthorizedError, and so is a device disabled after it sent', async () => {
    const disabled = await newDevice('disabled');
    await rejectsUnauthorized(deviceClient(disabled.deviceId, disabled.key).sendEvent(new Message('x')));

    const { deviceId, key } = await newDevice();
    const client = deviceClient(deviceId, key);
    await client.sendEvent(new Message('before'));
    await owner.update({ deviceId, status: 'disabled' });
    await rejectsUnauthorized(client.sendEvent(new Message('after')));
  });
});
