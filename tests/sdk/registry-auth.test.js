'use strict';
// SAS authentication as the official Node service SDK meets it: the policies the host generates on first start
// (<DataFolder>/access-policies.json, owner connection string logged once), wrong keys and expired tokens
// (401 → UnauthorizedError on every Registry method), and per-policy rights.
// This file's registry: 127.0.0.3:443 with HostName=127.0.0.3 (see lib/registry-process.js).

const { describe, test, before, after } = require('node:test');
const assert = require('node:assert/strict');

const { startRegistry } = require('./lib/registry-process');
const { iothub, uniqueId, newKey, connectionString, readPolicies, registryFor, rejectsWith } = require('./lib/sdk');

describe('Registry SAS authentication (azure-iothub)', { timeout: 120_000 }, () => {
  let server;
  let owner;

  before(async () => {
    server = await startRegistry({ address: '127.0.0.3' });
    owner = registryFor(server);
  });

  after(async () => {
    await server?.stop();
  });

  /** Every Registry method once, each expected to reject with `className`; `id` names an existing device. */
  async function everyMethodRejects(registry, id, className, status) {
    const device = { deviceId: id, status: 'disabled' };
    const calls = {
      create: () => registry.create({ deviceId: uniqueId('denied') }),
      get: () => registry.get(id),
      update: () => registry.update(device),
      delete: () => registry.delete(id),
      list: () => registry.list(),
      addDevices: () => registry.addDevices([{ deviceId: uniqueId('denied') }]),
      updateDevices: () => registry.updateDevices([device], true),
      removeDevices: () => registry.removeDevices([device], true),
      getRegistryStatistics: () => registry.getRegistryStatistics(),
    };
    for (const [name, call] of Object.entries(calls)) {
      await rejectsWith(call(), className, status).catch((e) => {
        e.message = `${name}: ${e.message}`;
        throw e;
      });
    }
  }

  test('the first start generates IoT Hub\'s default policies with 32-byte keys and logs the owner connection string once', () => {
    const policies = readPolicies(server);
    assert.ok(policies, 'access-policies.json exists in the data folder');
    assert.deepEqual(policies.map((p) => p.keyName).sort(), ['device', 'iothubowner', 'registryRead', 'registryReadWrite', 'service']);
    for (const p of policies) {
      assert.equal(Buffer.from(p.primaryKey, 'base64').length, 32, `${p.keyName} primaryKey`);
      assert.equal(Buffer.from(p.secondaryKey, 'base64').length, 32, `${p.keyName} secondaryKey`);
      assert.notEqual(p.primaryKey, p.secondaryKey);
    }
    const logged = server.log.match(/HostName=\S+;SharedAccessKeyName=iothubowner;SharedAccessKey=\S+/g);
    assert.deepEqual(logged, [connectionString(server)], 'the owner connection string is logged exactly once, as the file has it');
  });

  test('the logged owner connection string drives every Registry method', async () => {
    const [cs] = server.log.match(/HostName=\S+;SharedAccessKeyName=iothubowner;SharedAccessKey=\S+/);
    const registry = iothub.Registry.fromConnectionString(cs);
    const deviceId = uniqueId('owner');
    await registry.create({ deviceId });
    await registry.get(deviceId);
    await registry.update({ deviceId, status: 'disabled' });
    await registry.list();
    await registry.getRegistryStatistics();
    await registry.addDevices([{ deviceId: uniqueId('owner-bulk') }]);
    await registry.updateDevices([{ deviceId, status: 'enabled' }], true);
    await registry.removeDevices([{ deviceId }], true);
    await rejectsWith(registry.get(deviceId), 'DeviceNotFoundError', 404);
  });

  test('a connection string with a wrong key is refused: every Registry method rejects with UnauthorizedError (401) and nothing changes', async () => {
    const deviceId = uniqueId('victim');
    const { responseBody: before } = await owner.create({ deviceId });
    const { responseBody: statsBefore } = await owner.getRegistryStatistics();

    const intruder = registryFor(server, { key: newKey() });
    await everyMethodRejects(intruder, deviceId, 'UnauthorizedError', 401);

    const { responseBody: afterwards } = await owner.get(deviceId);
    assert.equal(afterwards.etag, before.etag);
    assert.equal(afterwards.status, 'enabled');
    const { responseBody: statsAfter } = await owner.getRegistryStatistics();
    assert.deepEqual(statsAfter, statsBefore);
  });

  test('the error of a refused call is IoT Hub\'s IotHubUnauthorizedAccess', async () => {
    const error = await rejectsWith(registryFor(server, { key: newKey() }).list(), 'UnauthorizedError', 401);
    assert.equal(error.response.headers['iothub-errorcode'], 'IotHubUnauthorizedAccess');
  });

  test('an unknown policy name is refused with UnauthorizedError', async () => {
    const stranger = registryFor(server, { keyName: 'nosuchpolicy', key: readPolicies(server).find((p) => p.keyName === 'iothubowner').primaryKey });
    await rejectsWith(stranger.getRegistryStatistics(), 'UnauthorizedError', 401);
    await rejectsWith(stranger.create({ deviceId: uniqueId('stranger') }), 'UnauthorizedError', 401);
  });

  test('a policy\'s secondary key works as well as its primary', async () => {
    const ownerPolicy = readPolicies(server).find((p) => p.keyName === 'iothubowner');
    const registry = registryFor(server, { key: ownerPolicy.secondaryKey });
    const deviceId = uniqueId('secondary');
    const { httpResponse } = await registry.create({ deviceId });
    assert.equal(httpResponse.statusCode, 200);
    await registry.delete(deviceId);
  });

  test('registryRead may get, list and read statistics, and every write rejects with UnauthorizedError', async () => {
    const deviceId = uniqueId('read-only');
    await owner.create({ deviceId });
    const reader = registryFor(server, { keyName: 'registryRead' });
    assert.equal((await reader.get(deviceId)).responseBody.deviceId, deviceId);
    assert.ok((await reader.list()).responseBody.some((d) => d.deviceId === deviceId));
    await reader.getRegistryStatistics();

    const device = { deviceId, status: 'disabled' };
    await rejectsWith(reader.create({ deviceId: uniqueId('read-only-new') }), 'UnauthorizedError', 401);
    await rejectsWith(reader.update(device), 'UnauthorizedError', 401);
    await rejectsWith(reader.delete(deviceId), 'UnauthorizedError', 401);
    await rejectsWith(reader.addDevices([{ deviceId: uniqueId('read-only-new') }]), 'UnauthorizedError', 401);
    await rejectsWith(reader.updateDevices([device], true), 'UnauthorizedError', 401);
    await rejectsWith(reader.removeDevices([device], true), 'UnauthorizedError', 401);
    assert.equal((await owner.get(deviceId)).responseBody.status, 'enabled');
  });

  test('registryReadWrite may create, update and delete', async () => {
    const writer = registryFor(server, { keyName: 'registryReadWrite' });
    const deviceId = uniqueId('read-write');
    await writer.create({ deviceId });
    assert.equal((await writer.update({ deviceId, status: 'disabled' })).responseBody.status, 'disabled');
    await writer.addDevices([{ deviceId: uniqueId('read-write-bulk') }]);
    await writer.delete(deviceId);
    await rejectsWith(owner.get(deviceId), 'DeviceNotFoundError', 404);
  });

  test('the service and device policies have no registry rights: every Registry method rejects with UnauthorizedError', async () => {
    const deviceId = uniqueId('no-rights');
    await owner.create({ deviceId });
    for (const keyName of ['service', 'device']) {
      await everyMethodRejects(registryFor(server, { keyName }), deviceId, 'UnauthorizedError', 401);
    }
    await owner.get(deviceId);
  });

  test('Registry.fromSharedAccessSignature: current tokens and tokens within the 5-minute skew work, older ones reject with UnauthorizedError', async () => {
    const { primaryKey } = readPolicies(server).find((p) => p.keyName === 'iothubowner');
    const now = Math.floor(Date.now() / 1000);
    const token = (expiry) => iothub.SharedAccessSignature.create(server.hostName, 'iothubowner', primaryKey, expiry).toString();

    const current = iothub.Registry.fromSharedAccessSignature(token(now + 3600));
    const { httpResponse } = await current.getRegistryStatistics();
    assert.equal(httpResponse.statusCode, 200);

    const withinSkew = iothub.Registry.fromSharedAccessSignature(token(now - 60));
    assert.equal((await withinSkew.getRegistryStatistics()).httpResponse.statusCode, 200);

    const expired = iothub.Registry.fromSharedAccessSignature(token(now - 600));
    await rejectsWith(expired.getRegistryStatistics(), 'UnauthorizedError', 401);
    await rejectsWith(expired.create({ deviceId: uniqueId('expired') }), 'UnauthorizedError', 401);
  });

  test('a token signed for another host name rejects with UnauthorizedError', async () => {
    const { primaryKey } = readPolicies(server).find((p) => p.keyName === 'iothubowner');
    const forOtherHub = iothub.SharedAccessSignature.create('otherhub.azure-devices.net', 'iothubowner', primaryKey, Math.floor(Date.now() / 1000) + 3600);
    // fromSharedAccessSignature would dial the token's sr; the Registry constructor takes host and token apart.
    const registry = new iothub.Registry({ host: server.hostName, sharedAccessSignature: forOtherHub.toString() });
    await rejectsWith(registry.getRegistryStatistics(), 'UnauthorizedError', 401);
  });

  // Last in this file: it restarts the registry.
  test('a restart on the same data folder keeps the keys: the connection string still works and no key is logged again', async () => {
    const cs = connectionString(server);
    await server.kill();
    await server.start();
    assert.doesNotMatch(server.log, /SharedAccessKey=/, 'the second start logs no key');
    assert.equal(connectionString(server), cs, 'access-policies.json is reused, not regenerated');
    const registry = iothub.Registry.fromConnectionString(cs);
    const deviceId = uniqueId('after-restart');
    const { httpResponse } = await registry.create({ deviceId });
    assert.equal(httpResponse.statusCode, 200);
    await rejectsWith(registryFor(server, { key: newKey() }).get(deviceId), 'UnauthorizedError', 401);
  });
});
