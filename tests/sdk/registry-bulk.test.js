'use strict';
// The official Node service SDK's bulk calls (addDevices, updateDevices, removeDevices: POST /devices with
// ExportImportDevice items) against the real registry process, including etag conditions and partial failure.
// This file's registry: 127.0.0.2:443 with HostName=127.0.0.2 (see lib/registry-process.js).

const { describe, test, before, after } = require('node:test');
const assert = require('node:assert/strict');

const { startRegistry } = require('./lib/registry-process');
const { iothub, CAPTURED_ID, uniqueId, newKey, hex, registryFor, rejectsWith, assertKey } = require('./lib/sdk');

/**
 * A bulk call that fails item-wise answers 400 with a BulkRegistryOperationResult; the Node SDK cannot parse that
 * as an IoT Hub error body, so it raises ArgumentError("Error: <body>") (docs/wire-contract.md §6, §9). Returns the result.
 */
async function bulkFailure(promise) {
  const error = await rejectsWith(promise, 'ArgumentError', 400);
  assert.ok(error.message.startsWith('Error: '), `message should be "Error: <body>", got ${error.message}`);
  assert.equal(error.message, `Error: ${error.responseBody}`);
  assert.equal(error.response.headers['iothub-errorcode'], 'BulkRegistryOperationFailure');
  const result = JSON.parse(error.responseBody);
  assert.equal(result.isSuccessful, false);
  assert.ok(Array.isArray(result.errors) && result.errors.length > 0);
  return result;
}

function successful({ responseBody, httpResponse }) {
  assert.equal(httpResponse.statusCode, 200);
  assert.equal(responseBody.isSuccessful, true);
  assert.deepEqual(responseBody.errors, []);
  return responseBody;
}

describe('Registry bulk operations (azure-iothub)', { timeout: 120_000 }, () => {
  let server;
  let registry;

  before(async () => {
    server = await startRegistry({ address: '127.0.0.2' });
    registry = registryFor(server);
  });

  after(async () => {
    await server?.stop();
  });

  async function getAll(ids) {
    const devices = [];
    for (const id of ids) devices.push((await registry.get(id)).responseBody);
    return devices;
  }

  test('addDevices creates every device, generating keys where none were given', async () => {
    const ids = [uniqueId('add'), uniqueId('add'), `${uniqueId('add')}${CAPTURED_ID}`];
    successful(await registry.addDevices(ids.map((deviceId) => ({ deviceId }))));
    for (const device of await getAll(ids)) {
      assert.equal(device.status, 'enabled');
      assert.equal(device.authentication.type, 'sas');
      assertKey(device.authentication.symmetricKey.primaryKey, 32, `${device.deviceId} primaryKey`);
      assertKey(device.authentication.symmetricKey.secondaryKey, 32, `${device.deviceId} secondaryKey`);
    }
  });

  test('addDevices takes keys, thumbprints, certificateAuthority and a disabled status item by item', async () => {
    const keys = { primaryKey: newKey(), secondaryKey: newKey() };
    const thumbs = { primaryThumbprint: hex(40), secondaryThumbprint: hex(40) };
    const items = {
      keys: { deviceId: uniqueId('add-keys'), authentication: { symmetricKey: keys } },
      thumbs: { deviceId: uniqueId('add-x509'), authentication: { x509Thumbprint: thumbs } },
      ca: { deviceId: uniqueId('add-ca'), authentication: { type: 'certificateAuthority' } },
      off: { deviceId: uniqueId('add-off'), status: 'disabled', statusReason: 'staged' },
    };
    successful(await registry.addDevices(Object.values(items)));
    const [withKeys, withThumbs, withCa, off] = await getAll(Object.values(items).map((i) => i.deviceId));
    assert.equal(withKeys.authentication.type, 'sas');
    assert.deepEqual(withKeys.authentication.symmetricKey, keys);
    assert.equal(withThumbs.authentication.type, 'selfSigned');
    assert.deepEqual(withThumbs.authentication.x509Thumbprint, thumbs);
    assert.equal(withCa.authentication.type, 'certificateAuthority');
    assert.equal(off.status, 'disabled');
    assert.equal(off.statusReason, 'staged');
  });

  test('addDevices with 100 devices, the most one call takes, creates them all', async () => {
    const ids = Array.from({ length: 100 }, () => uniqueId('add-100'));
    successful(await registry.addDevices(ids.map((deviceId) => ({ deviceId }))));
    const { responseBody: listed } = await registry.list();
    const listedIds = new Set(listed.map((d) => d.deviceId));
    assert.ok(ids.every((id) => listedIds.has(id)));
  });

  test('addDevices with one existing id fails that item as DeviceAlreadyExists and still creates the others', async () => {
    const existing = uniqueId('add-exists');
    const { responseBody: before } = await registry.create({ deviceId: existing });
    const fresh = [uniqueId('add-fresh'), uniqueId('add-fresh')];

    const result = await bulkFailure(registry.addDevices([{ deviceId: fresh[0] }, { deviceId: existing }, { deviceId: fresh[1] }]));
    assert.equal(result.errors.length, 1);
    assert.equal(result.errors[0].deviceId, existing);
    assert.equal(result.errors[0].errorCode, 'DeviceAlreadyExists');
    assert.equal(result.errors[0].operation, 'create');
    assert.ok(result.errors[0].errorStatus);

    const { responseBody: after } = await registry.get(existing);
    assert.equal(after.etag, before.etag, 'the existing device is untouched');
    for (const device of await getAll(fresh)) assert.equal(device.status, 'enabled');
  });

  test('addDevices reports an invalid item by itself and applies the valid ones', async () => {
    const good = uniqueId('add-good');
    const badKeys = uniqueId('add-badkeys');
    const result = await bulkFailure(
      registry.addDevices([
        { deviceId: good },
        { deviceId: badKeys, authentication: { symmetricKey: { primaryKey: newKey(4), secondaryKey: newKey(4) } } },
        { deviceId: 'bad/id' },
      ]),
    );
    const byId = new Map(result.errors.map((e) => [e.deviceId, e]));
    assert.deepEqual([...byId.keys()].sort(), ['bad/id', badKeys].sort());
    assert.equal(byId.get(badKeys).errorCode, 'ArgumentInvalid');
    assert.equal(byId.get('bad/id').errorCode, 'ArgumentInvalid');
    await registry.get(good);
    await rejectsWith(registry.get(badKeys), 'DeviceNotFoundError', 404);
  });

  test('a bulk call naming one device twice is refused whole with ArgumentError and applies nothing', async () => {
    const twice = uniqueId('twice');
    const other = uniqueId('twice-other');
    const error = await rejectsWith(
      registry.addDevices([{ deviceId: twice }, { deviceId: other }, { deviceId: twice }]),
      'ArgumentError',
      400,
    );
    assert.equal(error.response.headers['iothub-errorcode'], 'DeviceDefinedMultipleTimes');
    await rejectsWith(registry.get(twice), 'DeviceNotFoundError', 404);
    await rejectsWith(registry.get(other), 'DeviceNotFoundError', 404);
  });

  test('updateDevices with forceUpdate=true (importMode Update) applies regardless of etag', async () => {
    const ids = [uniqueId('upd-force'), uniqueId('upd-force')];
    successful(await registry.addDevices(ids.map((deviceId) => ({ deviceId }))));
    const stale = await getAll(ids);
    // Move both devices on, so the etags the caller holds are stale.
    for (const device of stale) await registry.update({ deviceId: device.deviceId, status: 'enabled' });

    successful(
      await registry.updateDevices(
        stale.map((d) => ({ ...d, status: 'disabled', statusReason: 'forced' })),
        true,
      ),
    );
    for (const [i, device] of (await getAll(ids)).entries()) {
      assert.equal(device.status, 'disabled');
      assert.equal(device.statusReason, 'forced');
      assert.notEqual(device.etag, stale[i].etag);
      assert.deepEqual(device.authentication.symmetricKey, stale[i].authentication.symmetricKey, 'keys kept');
    }
  });

  test('updateDevices with forceUpdate=false (UpdateIfMatchETag) applies items whose etag is current', async () => {
    const ids = [uniqueId('upd-etag'), uniqueId('upd-etag')];
    successful(await registry.addDevices(ids.map((deviceId) => ({ deviceId }))));
    const current = await getAll(ids);
    const rotated = { primaryKey: newKey(), secondaryKey: newKey() };

    successful(
      await registry.updateDevices(
        current.map((d) => ({ ...d, statusReason: 'etag ok', authentication: { symmetricKey: rotated } })),
        false,
      ),
    );
    for (const [i, device] of (await getAll(ids)).entries()) {
      assert.equal(device.statusReason, 'etag ok');
      assert.deepEqual(device.authentication.symmetricKey, rotated);
      assert.notEqual(device.etag, current[i].etag);
    }
  });

  test('updateDevices with forceUpdate=false and a stale etag fails that item as PreconditionFailed and changes nothing of it', async () => {
    const staleId = uniqueId('upd-stale');
    const freshId = uniqueId('upd-fresh');
    successful(await registry.addDevices([{ deviceId: staleId }, { deviceId: freshId }]));
    const [stale, fresh] = await getAll([staleId, freshId]);
    const { responseBody: movedOn } = await registry.update({ deviceId: staleId, status: 'enabled', statusReason: 'moved on' });

    const result = await bulkFailure(
      registry.updateDevices(
        [
          { ...stale, status: 'disabled', statusReason: 'stale write' },
          { ...fresh, status: 'disabled', statusReason: 'fresh write' },
        ],
        false,
      ),
    );
    assert.equal(result.errors.length, 1);
    assert.equal(result.errors[0].deviceId, staleId);
    assert.equal(result.errors[0].errorCode, 'PreconditionFailed');
    assert.equal(result.errors[0].operation, 'updateIfMatchETag');

    const [staleAfter, freshAfter] = await getAll([staleId, freshId]);
    assert.equal(staleAfter.etag, movedOn.etag, 'the stale item changed nothing');
    assert.equal(staleAfter.statusReason, 'moved on');
    assert.equal(freshAfter.status, 'disabled');
    assert.equal(freshAfter.statusReason, 'fresh write');
  });

  test('updateDevices of an unknown device fails that item as DeviceNotFound and does not create it', async () => {
    const missing = uniqueId('upd-missing');
    for (const force of [true, false]) {
      const result = await bulkFailure(registry.updateDevices([{ deviceId: missing, etag: 'AAAA', status: 'enabled' }], force));
      assert.equal(result.errors[0].deviceId, missing);
      assert.equal(result.errors[0].errorCode, 'DeviceNotFound');
    }
    await rejectsWith(registry.get(missing), 'DeviceNotFoundError', 404);
  });

  test('removeDevices with force=true (importMode Delete) removes regardless of etag', async () => {
    const ids = [uniqueId('rm-force'), uniqueId('rm-force')];
    successful(await registry.addDevices(ids.map((deviceId) => ({ deviceId }))));
    const stale = await getAll(ids);
    for (const device of stale) await registry.update({ deviceId: device.deviceId, status: 'disabled' });

    successful(await registry.removeDevices(stale, true));
    for (const id of ids) await rejectsWith(registry.get(id), 'DeviceNotFoundError', 404);
  });

  test('removeDevices with force=false (DeleteIfMatchETag) removes current items and keeps the stale one', async () => {
    const currentIds = [uniqueId('rm-etag'), uniqueId('rm-etag')];
    const staleId = uniqueId('rm-stale');
    successful(await registry.addDevices([...currentIds, staleId].map((deviceId) => ({ deviceId }))));
    const [a, b, stale] = await getAll([...currentIds, staleId]);
    const { responseBody: movedOn } = await registry.update({ deviceId: staleId, status: 'enabled', statusReason: 'moved on' });

    const result = await bulkFailure(registry.removeDevices([a, stale, b], false));
    assert.equal(result.errors.length, 1);
    assert.equal(result.errors[0].deviceId, staleId);
    assert.equal(result.errors[0].errorCode, 'PreconditionFailed');
    assert.equal(result.errors[0].operation, 'deleteIfMatchETag');

    for (const id of currentIds) await rejectsWith(registry.get(id), 'DeviceNotFoundError', 404);
    const { responseBody: kept } = await registry.get(staleId);
    assert.equal(kept.etag, movedOn.etag);

    successful(await registry.removeDevices([kept], false));
    await rejectsWith(registry.get(staleId), 'DeviceNotFoundError', 404);
  });

  test('removeDevices of an unknown device fails that item as DeviceNotFound', async () => {
    const missing = uniqueId('rm-missing');
    const present = uniqueId('rm-present');
    await registry.create({ deviceId: present });
    const result = await bulkFailure(registry.removeDevices([{ deviceId: missing }, { deviceId: present }], true));
    assert.equal(result.errors.length, 1);
    assert.equal(result.errors[0].deviceId, missing);
    assert.equal(result.errors[0].errorCode, 'DeviceNotFound');
    assert.equal(result.errors[0].operation, 'delete');
    await rejectsWith(registry.get(present), 'DeviceNotFoundError', 404);
  });

  test('bulk results feed getRegistryStatistics', async () => {
    const { responseBody: before } = await registry.getRegistryStatistics();
    const ids = Array.from({ length: 10 }, () => uniqueId('stats'));
    successful(await registry.addDevices(ids.map((deviceId, i) => ({ deviceId, status: i < 3 ? 'disabled' : 'enabled' }))));
    const { responseBody: added } = await registry.getRegistryStatistics();
    assert.equal(added.totalDeviceCount - before.totalDeviceCount, 10);
    assert.equal(added.disabledDeviceCount - before.disabledDeviceCount, 3);
    assert.equal(added.enabledDeviceCount - before.enabledDeviceCount, 7);

    successful(await registry.removeDevices(ids.map((deviceId) => ({ deviceId })), true));
    const { responseBody: removed } = await registry.getRegistryStatistics();
    assert.deepEqual(removed, before);
  });

  // Last in this file: it leaves more than 1000 devices behind.
  test('list stops at 1000 devices when the registry holds more', async () => {
    const { responseBody: stats } = await registry.getRegistryStatistics();
    const needed = Math.max(0, 1001 - stats.totalDeviceCount);
    for (let start = 0; start < needed; start += 100) {
      const count = Math.min(100, needed - start);
      successful(await registry.addDevices(Array.from({ length: count }, () => ({ deviceId: uniqueId('many') }))));
    }
    const { responseBody: total } = await registry.getRegistryStatistics();
    assert.ok(total.totalDeviceCount > 1000);

    const { responseBody: devices } = await registry.list();
    assert.equal(devices.length, 1000);
    assert.ok(devices.every((d) => d instanceof iothub.Device));
    assert.equal(new Set(devices.map((d) => d.deviceId)).size, 1000, 'no duplicates');
  });
});
