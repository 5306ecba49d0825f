'use strict';
// The official Node service SDK (azure-iothub 1.16.6, unmodified) against the real registry process:
// single-device create/get/update/delete, list and statistics, and the SDK errors of each failure.
// This file's registry: 127.0.0.1:443 with HostName=localhost (see lib/registry-process.js).

const { describe, test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { execFile } = require('node:child_process');
const path = require('node:path');

const { startRegistry } = require('./lib/registry-process');
const {
  iothub,
  ID_SPECIAL_CHARACTERS,
  CAPTURED_ID,
  uniqueId,
  newKey,
  hex,
  connectionString,
  registryFor,
  rejectsWith,
  assertKey,
} = require('./lib/sdk');

describe('Registry single-device operations (azure-iothub)', { timeout: 120_000 }, () => {
  let server;
  let registry;

  before(async () => {
    server = await startRegistry({ address: '127.0.0.1' });
    registry = registryFor(server);
  });

  after(async () => {
    await server?.stop();
  });

  test('fromConnectionString gives a Registry that talks to the local HostName on 443', async () => {
    const cs = connectionString(server);
    assert.match(cs, /^HostName=localhost;SharedAccessKeyName=iothubowner;SharedAccessKey=[A-Za-z0-9+/=]+$/);
    const fromCs = iothub.Registry.fromConnectionString(cs);
    assert.ok(fromCs instanceof iothub.Registry);
    const { httpResponse } = await fromCs.getRegistryStatistics();
    assert.equal(httpResponse.statusCode, 200);
  });

  test('the documented recipe works in a fresh process: NODE_EXTRA_CA_CERTS=<DataFolder>/certs/ca.pem (plus the --require port map when 443 is not ours)', async () => {
    const deviceId = uniqueId('recipe');
    const script = `
      const { Registry } = require('azure-iothub');
      const registry = Registry.fromConnectionString(process.env.IOTHUB_CONNECTION_STRING);
      (async () => {
        const created = await registry.create({ deviceId: process.env.DEVICE_ID });
        const read = await registry.get(process.env.DEVICE_ID);
        console.log(JSON.stringify({ created: created.responseBody.deviceId, etag: created.responseBody.etag, read: read.responseBody.etag }));
      })().catch((e) => { console.error(e.code || e.name, e.message); process.exit(1); });`;
    const run = (extraEnv) => {
      // Nothing inherited that could decide trust or routing on its own.
      const { NODE_TLS_REJECT_UNAUTHORIZED, NODE_EXTRA_CA_CERTS, NODE_OPTIONS, IOTHUB_PORT_MAP, ...inherited } = process.env;
      const env = { ...inherited, IOTHUB_CONNECTION_STRING: connectionString(server), DEVICE_ID: deviceId, ...extraEnv };
      if (server.viaPortMap) {
        env.NODE_OPTIONS = `--require ${path.join(__dirname, 'lib', 'portmap.js')}`;
        env.IOTHUB_PORT_MAP = `${server.hostName}:443:${server.port}`;
      }
      return new Promise((resolve) => {
        execFile(process.execPath, ['-e', script], { env, timeout: 30_000 }, (error, stdout, stderr) => resolve({ error, stdout, stderr }));
      });
    };

    // Without the CA the SDK refuses the registry's certificate, so what makes the next run work is the variable.
    const untrusted = await run({});
    assert.ok(untrusted.error, 'without NODE_EXTRA_CA_CERTS the TLS handshake must fail');
    assert.match(untrusted.stderr, /certificate/i);

    const trusted = await run({ NODE_EXTRA_CA_CERTS: server.caPath });
    assert.equal(trusted.error, null, trusted.stderr);
    const result = JSON.parse(trusted.stdout);
    assert.equal(result.created, deviceId);
    assert.equal(result.read, result.etag);
    const { responseBody: seenHere } = await registry.get(deviceId);
    assert.equal(seenHere.etag, result.etag);
  });

  test('create without keys generates two distinct 32-byte keys and answers the device with its ETag', async () => {
    const deviceId = uniqueId('gen-keys');
    const { responseBody: device, httpResponse } = await registry.create({ deviceId });

    assert.equal(httpResponse.statusCode, 200);
    assert.ok(device instanceof iothub.Device);
    assert.equal(device.deviceId, deviceId);
    assert.equal(device.status, 'enabled');
    assert.equal(device.connectionState, 'Disconnected');
    assert.equal(device.authentication.type, 'sas');
    assertKey(device.authentication.symmetricKey.primaryKey, 32, 'primaryKey');
    assertKey(device.authentication.symmetricKey.secondaryKey, 32, 'secondaryKey');
    assert.notEqual(device.authentication.symmetricKey.primaryKey, device.authentication.symmetricKey.secondaryKey);
    assert.equal(device.authentication.x509Thumbprint.primaryThumbprint, null);
    assert.ok(device.etag, 'etag');
    assert.ok(device.generationId, 'generationId');
    assert.equal(httpResponse.headers.etag, `"${device.etag}"`);
    assert.match(httpResponse.headers['content-type'], /^application\/json/);
  });

  test('create with supplied keys keeps exactly those keys', async () => {
    const deviceId = uniqueId('own-keys');
    const primaryKey = newKey(32);
    const secondaryKey = newKey(16);
    const { responseBody: device } = await registry.create({
      deviceId,
      authentication: { symmetricKey: { primaryKey, secondaryKey } },
    });
    assert.equal(device.authentication.type, 'sas');
    assert.deepEqual(device.authentication.symmetricKey, { primaryKey, secondaryKey });

    const { responseBody: read } = await registry.get(deviceId);
    assert.deepEqual(read.authentication.symmetricKey, { primaryKey, secondaryKey });
  });

  test('create with X.509 thumbprints (no type given) makes a selfSigned device without keys', async () => {
    for (const length of [40, 64]) {
      const deviceId = uniqueId(`x509-${length}`);
      const primaryThumbprint = hex(length);
      const secondaryThumbprint = hex(length);
      const { responseBody: device } = await registry.create({
        deviceId,
        authentication: { x509Thumbprint: { primaryThumbprint, secondaryThumbprint } },
      });
      assert.equal(device.authentication.type, 'selfSigned');
      assert.deepEqual(device.authentication.x509Thumbprint, { primaryThumbprint, secondaryThumbprint });
      assert.equal(device.authentication.symmetricKey.primaryKey, null);
      assert.equal(device.authentication.symmetricKey.secondaryKey, null);
    }
  });

  test('create with type certificateAuthority makes a CA-authenticated device without keys or thumbprints', async () => {
    const deviceId = uniqueId('ca-auth');
    const { responseBody: device } = await registry.create({ deviceId, authentication: { type: 'certificateAuthority' } });
    assert.equal(device.authentication.type, 'certificateAuthority');
    assert.equal(device.authentication.symmetricKey.primaryKey, null);
    assert.equal(device.authentication.x509Thumbprint.primaryThumbprint, null);

    const { responseBody: read } = await registry.get(deviceId);
    assert.equal(read.authentication.type, 'certificateAuthority');
  });

  test('create accepts an SDK Device object, ignoring its client-side defaults for read-only fields', async () => {
    // The SDK samples' way: new Device(null) carries connectionState 'disconnected', cloudToDeviceMessageCount '0'
    // (a string), null dates and null keys; the registry must treat them as absent.
    const device = new iothub.Device(null);
    device.deviceId = uniqueId('device-object');
    const { responseBody: created } = await registry.create(device);
    assert.equal(created.deviceId, device.deviceId);
    assert.equal(created.connectionState, 'Disconnected');
    assert.equal(created.cloudToDeviceMessageCount, 0);
    assertKey(created.authentication.symmetricKey.primaryKey, 32, 'primaryKey');

    const { responseBody: disabled } = await registry.update(Object.assign(new iothub.Device(JSON.stringify(created)), { status: 'disabled' }));
    assert.equal(disabled.status, 'disabled');
  });

  test('create with capabilities.iotEdge makes an edge device', async () => {
    const deviceId = uniqueId('edge');
    const { responseBody: created } = await registry.create({ deviceId, capabilities: { iotEdge: true } });
    assert.deepEqual(created.capabilities, { iotEdge: true });
    const { responseBody: read } = await registry.get(deviceId);
    assert.deepEqual(read.capabilities, { iotEdge: true });
  });

  test('create, get and delete round-trip the captured id with every special character', async () => {
    const { responseBody: created } = await registry.create({ deviceId: CAPTURED_ID });
    assert.equal(created.deviceId, CAPTURED_ID);

    const { responseBody: read } = await registry.get(CAPTURED_ID);
    assert.equal(read.deviceId, CAPTURED_ID);
    assert.equal(read.etag, created.etag);

    const { responseBody: listed } = await registry.list();
    assert.ok(listed.some((d) => d.deviceId === CAPTURED_ID), 'the listing shows the id unchanged');

    const { httpResponse } = await registry.delete(CAPTURED_ID);
    assert.equal(httpResponse.statusCode, 204);
    await rejectsWith(registry.get(CAPTURED_ID), 'DeviceNotFoundError', 404);
  });

  test('each special character survives the path in any position, and escapes inside ids are not decoded twice', async () => {
    const ids = [];
    for (const c of ID_SPECIAL_CHARACTERS) {
      ids.push(`${c}${uniqueId('sc')}${c}mid${c}`);
    }
    // Literal escape sequences: the SDK sends %252F, %2B and %2520; one decode must give these ids back.
    ids.push(uniqueId('pct%2F'), uniqueId('plus+a+b'), uniqueId('pct%20'), uniqueId('x').padEnd(128, '='));
    for (const deviceId of ids) {
      const { responseBody: created } = await registry.create({ deviceId });
      assert.equal(created.deviceId, deviceId);
      const { responseBody: read } = await registry.get(deviceId);
      assert.equal(read.deviceId, deviceId, `get ${deviceId}`);
    }
    const { responseBody: listed } = await registry.list();
    const listedIds = new Set(listed.map((d) => d.deviceId));
    for (const deviceId of ids) {
      assert.ok(listedIds.has(deviceId), `list shows ${deviceId}`);
      await registry.delete(deviceId);
      await rejectsWith(registry.get(deviceId), 'DeviceNotFoundError', 404);
    }
  });

  test('create refuses invalid ids and keys with ArgumentError and stores nothing', async () => {
    const tooLong = 'x'.repeat(129);
    for (const deviceId of [tooLong, 'has/slash', 'has space', 'ümlaut']) {
      const error = await rejectsWith(registry.create({ deviceId }), 'ArgumentError', 400);
      assert.equal(error.response.headers['iothub-errorcode'], 'ArgumentInvalid');
    }
    const shortKeys = uniqueId('short-key');
    await rejectsWith(
      registry.create({ deviceId: shortKeys, authentication: { symmetricKey: { primaryKey: newKey(8), secondaryKey: newKey(8) } } }),
      'ArgumentError',
      400,
    );
    const both = uniqueId('keys-and-thumbs');
    await rejectsWith(
      registry.create({
        deviceId: both,
        authentication: {
          symmetricKey: { primaryKey: newKey(), secondaryKey: newKey() },
          x509Thumbprint: { primaryThumbprint: hex(40), secondaryThumbprint: hex(40) },
        },
      }),
      'ArgumentError',
      400,
    );
    await rejectsWith(registry.get(shortKeys), 'DeviceNotFoundError', 404);
    await rejectsWith(registry.get(both), 'DeviceNotFoundError', 404);
  });

  test('get returns the device as create answered it', async () => {
    const deviceId = uniqueId('get');
    const { responseBody: created } = await registry.create({ deviceId });
    const { responseBody: read, httpResponse } = await registry.get(deviceId);
    assert.equal(httpResponse.statusCode, 200);
    assert.ok(read instanceof iothub.Device);
    assert.equal(httpResponse.headers.etag, `"${created.etag}"`);
    for (const field of ['deviceId', 'generationId', 'etag', 'status', 'statusReason', 'connectionState']) {
      assert.equal(read[field], created[field], field);
    }
    assert.deepEqual(read.authentication, created.authentication);
    assert.deepEqual(read.capabilities, { iotEdge: false });
  });

  test('get with the callback form delivers (null, device, response)', async () => {
    const deviceId = uniqueId('callback');
    await registry.create({ deviceId });
    const [err, device, response] = await new Promise((resolve) => {
      registry.get(deviceId, (...args) => resolve(args));
    });
    assert.equal(err, null);
    assert.equal(device.deviceId, deviceId);
    assert.equal(response.statusCode, 200);
  });

  test('get of an unknown device rejects with DeviceNotFoundError (404)', async () => {
    const deviceId = uniqueId('missing');
    const error = await rejectsWith(registry.get(deviceId), 'DeviceNotFoundError', 404);
    assert.equal(error.response.headers['iothub-errorcode'], 'DeviceNotFound');
    assert.match(error.message, new RegExp(deviceId));
  });

  test('create of an existing id rejects with DeviceAlreadyExistsError (409) and leaves the device as it was', async () => {
    const deviceId = uniqueId('dup');
    const { responseBody: first } = await registry.create({ deviceId });
    const error = await rejectsWith(
      registry.create({ deviceId, authentication: { symmetricKey: { primaryKey: newKey(), secondaryKey: newKey() } } }),
      'DeviceAlreadyExistsError',
      409,
    );
    assert.equal(error.response.headers['iothub-errorcode'], 'DeviceAlreadyExists');
    const { responseBody: read } = await registry.get(deviceId);
    assert.equal(read.etag, first.etag);
    assert.deepEqual(read.authentication.symmetricKey, first.authentication.symmetricKey);
  });

  test('update disables a device with a reason; get then shows it, with a new etag and the same generationId and keys', async () => {
    const deviceId = uniqueId('disable');
    const { responseBody: created } = await registry.create({ deviceId });
    const { responseBody: current } = await registry.get(deviceId);
    current.status = 'disabled';
    current.statusReason = 'maintenance window';

    const { responseBody: updated, httpResponse } = await registry.update(current);
    assert.equal(httpResponse.statusCode, 200);
    assert.equal(updated.status, 'disabled');
    assert.equal(updated.statusReason, 'maintenance window');
    assert.notEqual(updated.etag, created.etag);
    assert.equal(updated.generationId, created.generationId);
    assert.deepEqual(updated.authentication.symmetricKey, created.authentication.symmetricKey);
    assert.ok(Date.parse(updated.statusUpdatedTime) >= Date.parse(created.statusUpdatedTime));

    const { responseBody: read } = await registry.get(deviceId);
    assert.equal(read.status, 'disabled');
    assert.equal(read.statusReason, 'maintenance window');
    assert.equal(read.etag, updated.etag);
  });

  test('update without authentication keeps the keys; update with new keys replaces them', async () => {
    const deviceId = uniqueId('rekey');
    const { responseBody: created } = await registry.create({ deviceId });

    const { responseBody: sameKeys } = await registry.update({ deviceId, status: 'enabled' });
    assert.deepEqual(sameKeys.authentication.symmetricKey, created.authentication.symmetricKey);

    const rotated = { primaryKey: newKey(), secondaryKey: newKey() };
    const { responseBody: rekeyed } = await registry.update({ deviceId, status: 'enabled', authentication: { symmetricKey: rotated } });
    assert.deepEqual(rekeyed.authentication.symmetricKey, rotated);
    const { responseBody: read } = await registry.get(deviceId);
    assert.deepEqual(read.authentication.symmetricKey, rotated);
  });

  test('update with the device as get returned it keeps X.509 and certificateAuthority credentials', async () => {
    const thumbs = { primaryThumbprint: hex(64), secondaryThumbprint: hex(64) };
    const selfSigned = uniqueId('upd-x509');
    const ca = uniqueId('upd-ca');
    await registry.create({ deviceId: selfSigned, authentication: { x509Thumbprint: thumbs } });
    await registry.create({ deviceId: ca, authentication: { type: 'certificateAuthority' } });

    for (const deviceId of [selfSigned, ca]) {
      const { responseBody: read } = await registry.get(deviceId);
      read.status = 'disabled';
      const { responseBody: updated } = await registry.update(read);
      assert.equal(updated.status, 'disabled');
      assert.deepEqual(updated.authentication, read.authentication, `${deviceId} keeps its credentials`);
    }
    assert.deepEqual((await registry.get(selfSigned)).responseBody.authentication.x509Thumbprint, thumbs);
  });

  test('update of an unknown device rejects with DeviceNotFoundError and does not create it', async () => {
    const deviceId = uniqueId('update-missing');
    await rejectsWith(registry.update({ deviceId, status: 'disabled' }), 'DeviceNotFoundError', 404);
    await rejectsWith(registry.get(deviceId), 'DeviceNotFoundError', 404);
  });

  test('update with invalid data rejects with ArgumentError and changes nothing', async () => {
    const deviceId = uniqueId('update-bad');
    const { responseBody: created } = await registry.create({ deviceId });
    await rejectsWith(registry.update({ deviceId, status: 'enabled', statusReason: 'r'.repeat(129) }), 'ArgumentError', 400);
    await rejectsWith(registry.update({ deviceId, status: 'paused' }), 'ArgumentError', 400);
    const { responseBody: read } = await registry.get(deviceId);
    assert.equal(read.etag, created.etag);
  });

  test('delete answers 204, after which get, update and delete reject with DeviceNotFoundError', async () => {
    const deviceId = uniqueId('delete');
    await registry.create({ deviceId });
    const { httpResponse } = await registry.delete(deviceId);
    assert.equal(httpResponse.statusCode, 204);
    await rejectsWith(registry.get(deviceId), 'DeviceNotFoundError', 404);
    await rejectsWith(registry.update({ deviceId, status: 'enabled' }), 'DeviceNotFoundError', 404);
    await rejectsWith(registry.delete(deviceId), 'DeviceNotFoundError', 404);
  });

  test('a device re-created after delete gets a new generationId and new keys', async () => {
    const deviceId = uniqueId('recreate');
    const { responseBody: first } = await registry.create({ deviceId });
    await registry.delete(deviceId);
    const { responseBody: second } = await registry.create({ deviceId });
    assert.notEqual(second.generationId, first.generationId);
    assert.notEqual(second.authentication.symmetricKey.primaryKey, first.authentication.symmetricKey.primaryKey);
  });

  test('list answers Device objects, at most 1000, including every device just created and none deleted', async () => {
    const ids = [uniqueId('list'), uniqueId('list'), uniqueId('list')];
    for (const deviceId of ids) await registry.create({ deviceId });
    const gone = uniqueId('list-gone');
    await registry.create({ deviceId: gone });
    await registry.delete(gone);

    const { responseBody: devices, httpResponse } = await registry.list();
    assert.equal(httpResponse.statusCode, 200);
    assert.ok(Array.isArray(devices));
    assert.ok(devices.length <= 1000);
    assert.ok(devices.every((d) => d instanceof iothub.Device && d.deviceId && d.etag));
    const listed = new Map(devices.map((d) => [d.deviceId, d]));
    for (const deviceId of ids) {
      assert.ok(listed.has(deviceId), `list shows ${deviceId}`);
      assertKey(listed.get(deviceId).authentication.symmetricKey.primaryKey, 32, `${deviceId} primaryKey`);
    }
    assert.ok(!listed.has(gone), 'a deleted device is not listed');
    assert.equal(new Set(devices.map((d) => d.deviceId)).size, devices.length, 'no device is listed twice');
  });

  test('getRegistryStatistics counts enabled and disabled devices', async () => {
    const { responseBody: before, httpResponse } = await registry.getRegistryStatistics();
    assert.equal(httpResponse.statusCode, 200);
    assert.equal(before.totalDeviceCount, before.enabledDeviceCount + before.disabledDeviceCount);

    const enabled = [uniqueId('stats-on'), uniqueId('stats-on')];
    const disabled = uniqueId('stats-off');
    for (const deviceId of enabled) await registry.create({ deviceId });
    await registry.create({ deviceId: disabled, status: 'disabled', statusReason: 'never enabled' });

    const { responseBody: after } = await registry.getRegistryStatistics();
    assert.deepEqual(
      {
        total: after.totalDeviceCount - before.totalDeviceCount,
        enabled: after.enabledDeviceCount - before.enabledDeviceCount,
        disabled: after.disabledDeviceCount - before.disabledDeviceCount,
      },
      { total: 3, enabled: 2, disabled: 1 },
    );

    await registry.update({ deviceId: enabled[0], status: 'disabled' });
    await registry.delete(disabled);
    const { responseBody: last } = await registry.getRegistryStatistics();
    assert.deepEqual(
      {
        total: last.totalDeviceCount - before.totalDeviceCount,
        enabled: last.enabledDeviceCount - before.enabledDeviceCount,
        disabled: last.disabledDeviceCount - before.disabledDeviceCount,
      },
      { total: 2, enabled: 1, disabled: 1 },
    );
  });
});
