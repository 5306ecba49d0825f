'use strict';
// IoT Hub's identity-registry throttle as the official Node service SDK meets it: a registry configured as an S1
// hub with one unit (Registry__Throttling__Enabled/Tier/Units: 100 registry operations per minute) answers
// 429 ThrottlingException once the budget is spent, and the SDK surfaces ThrottlingError.
//
// The azure-iothub Registry has no retry policy (registry.js calls RestApiClient.executeApiCall once; only the
// AMQP Client retries), so each throttled call is exactly one HTTP request; the test counts them to prove it.
// Determinism: the budget is a token bucket that starts full (100) and earns 100/min back continuously, so the
// number of calls that succeed before the first 429 is 100 plus what was earned meanwhile, bounded from the
// measured elapsed time; nothing waits on a clock.
// This file's registry: 127.0.0.4:443 with HostName=127.0.0.4, its owner key pinned through configuration
// (Registry__AccessPolicies__iothubowner__PrimaryKey) rather than read from the generated file.

const { describe, test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const https = require('node:https');

const { startRegistry } = require('./lib/registry-process');
const { iothub, uniqueId, newKey, rejectsWith } = require('./lib/sdk');

const PER_MINUTE = 100;

describe('Registry throttling, S1 with one unit (azure-iothub)', { timeout: 120_000 }, () => {
  let server;
  let registry;
  const ownerKey = newKey();
  let requests = 0;
  let restoreRequest;

  before(async () => {
    server = await startRegistry({
      address: '127.0.0.4',
      settings: {
        'Throttling:Enabled': true,
        'Throttling:Tier': 'S1',
        'Throttling:Units': 1,
        'AccessPolicies:iothubowner:PrimaryKey': ownerKey,
      },
    });
    registry = iothub.Registry.fromConnectionString(`HostName=${server.hostName};SharedAccessKeyName=iothubowner;SharedAccessKey=${ownerKey}`);
    // Count the HTTPS requests the SDK sends to this registry (its Http layer calls https.request each time).
    const request = https.request;
    https.request = function countingRequest(options, ...rest) {
      if (options && typeof options === 'object' && options.host === server.hostName) requests += 1;
      return request.call(this, options, ...rest);
    };
    restoreRequest = () => {
      https.request = request;
    };
  });

  after(async () => {
    restoreRequest?.();
    await server?.stop();
  });

  /** Calls `call` until it rejects; returns the error and how many calls succeeded before it. */
  async function untilRejected(call, maxCalls) {
    for (let succeeded = 0; succeeded < maxCalls; succeeded++) {
      try {
        await call();
      } catch (error) {
        return { error, succeeded };
      }
    }
    assert.fail(`${maxCalls} calls in a row succeeded; expected a 429 before that`);
  }

  /** Calls `call` until it rejects with HTTP 429, ignoring other outcomes; returns that error and the call count. */
  async function untilThrottled(call, maxCalls) {
    for (let calls = 1; calls <= maxCalls; calls++) {
      try {
        await call();
      } catch (error) {
        if (error.response?.statusCode === 429) return { error, calls };
      }
    }
    assert.fail(`no 429 in ${maxCalls} calls`);
  }

  function earnedSince(startMs) {
    return Math.ceil(((Date.now() - startMs) / 60_000) * PER_MINUTE);
  }

  test('after 100 registry operations in a burst the next rejects with ThrottlingError (429), sent once without SDK retry', async () => {
    const started = Date.now();
    const deviceId = uniqueId('throttled');
    await registry.create({ deviceId });
    const { error, succeeded } = await untilRejected(() => registry.get(deviceId), 10 * PER_MINUTE);
    const allowed = 1 + succeeded; // the create counted too

    assert.ok(allowed >= PER_MINUTE, `only ${allowed} operations went through before the first 429`);
    assert.ok(allowed <= PER_MINUTE + earnedSince(started), `${allowed} operations went through, more than 100 + what ${Date.now() - started} ms earn`);
    await rejectsWith(Promise.reject(error), 'ThrottlingError', 429);
    assert.equal(error.response.headers['iothub-errorcode'], 'ThrottlingException');
    assert.match(error.response.headers['retry-after'], /^[1-9]\d*$/, 'Retry-After in whole seconds');
    assert.match(error.message, /limited to/);

    // The next throttled call is sent once. The bucket earns an operation back every 600 ms, so on a loaded machine the
    // call right after the 429 can find one (a run saw it succeed): call until one is throttled, counting its requests.
    for (let attempt = 1; ; attempt++) {
      const before = requests;
      try {
        await registry.get(deviceId);
      } catch (throttled) {
        await rejectsWith(Promise.reject(throttled), 'ThrottlingError', 429);
        assert.equal(requests - before, 1, 'the SDK sent the throttled request once and did not retry it');
        break;
      }
      assert.ok(attempt < 5, `${attempt} calls after the 429 succeeded: more than 600 ms earn each`);
    }
  });

  test('once the budget is spent every Registry method surfaces ThrottlingError', async () => {
    const deviceId = uniqueId('spent');
    // The budget earns one operation back per 600 ms and calls take milliseconds, so each method meets the empty
    // bucket at once; a call that slipped through on a freshly earned operation is simply made again.
    const calls = {
      create: () => registry.create({ deviceId: uniqueId('spent-new') }),
      get: () => registry.get(deviceId),
      update: () => registry.update({ deviceId, status: 'disabled' }),
      delete: () => registry.delete(deviceId),
      list: () => registry.list(),
      addDevices: () => registry.addDevices([{ deviceId: uniqueId('spent-bulk') }]),
      updateDevices: () => registry.updateDevices([{ deviceId, status: 'disabled' }], true),
      removeDevices: () => registry.removeDevices([{ deviceId }], true),
      getRegistryStatistics: () => registry.getRegistryStatistics(),
    };
    for (const [name, call] of Object.entries(calls)) {
      const { error, calls: made } = await untilThrottled(call, 50);
      await rejectsWith(Promise.reject(error), 'ThrottlingError', 429).catch((e) => {
        e.message = `${name}: ${e.message}`;
        throw e;
      });
      assert.ok(made <= 3, `${name} met the empty bucket only on call ${made}`);
    }
  });
});
