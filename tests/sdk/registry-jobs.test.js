'use strict';
// The official Node service SDK's import/export job calls (importDevicesFromBlob, exportDevicesToBlob, getJob,
// listJobs, cancelJob: /jobs, docs/wire-contract.md §18) against the real registry process, with containers in
// Azurite's blob service whose SAS URIs @azure/storage-blob makes, as a user of IoT Hub would.
// This file's registry: 127.0.0.6:443 with HostName=127.0.0.6 (see lib/registry-process.js).

const { describe, test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const net = require('node:net');

const { ContainerSASPermissions } = require('@azure/storage-blob');
const { startRegistry } = require('./lib/registry-process');
const { startAzuriteBlob } = require('./lib/azurite');
const { uniqueId, newKey, registryFor, rejectsWith } = require('./lib/sdk');

const JOB_TIMEOUT_MS = 60_000;
const ENDED = new Set(['completed', 'failed', 'cancelled']);

describe('Registry import/export jobs (azure-iothub)', { timeout: 240_000 }, () => {
  let server;
  let azurite;
  let registry;
  let blackHole;
  const held = new Set();

  before(async () => {
    [azurite, server] = await Promise.all([startAzuriteBlob(), startRegistry({ address: '127.0.0.6' })]);
    registry = registryFor(server);
    // A storage "host" that accepts connections and never answers: a job reading from it stays running until cancelled.
    blackHole = net.createServer((socket) => held.add(socket));
    await new Promise((resolve) => blackHole.listen(0, '127.0.0.1', resolve));
  });

  after(async () => {
    for (const socket of held) socket.destroy();
    await new Promise((resolve) => blackHole?.close(() => resolve()) ?? resolve());
    await server?.stop();
    await azurite?.stop();
  });

  /** A new container and a SAS URI for it (read, add, create, write, delete, list unless narrowed). */
  async function newContainer(permissions = 'racwdl') {
    const container = azurite.serviceClient.getContainerClient(`jobs-${uniqueId('c').toLowerCase()}`);
    await container.create();
    const sas = await container.generateSasUrl({
      permissions: ContainerSASPermissions.parse(permissions),
      expiresOn: new Date(Date.now() + 3_600_000),
    });
    return { container, sas };
  }

  async function readLines(container, blobName) {
    const text = (await container.getBlockBlobClient(blobName).downloadToBuffer()).toString('utf8');
    return text.split('\n').filter((line) => line.length > 0);
  }

  /** Polls getJob (the API's only signal) until the job ended, within a bound that fails the test instead of hanging it. */
  async function waitForEnd(jobId) {
    const deadline = Date.now() + JOB_TIMEOUT_MS;
    for (;;) {
      const job = await registry.getJob(jobId);
      if (ENDED.has(job.status)) return job;
      assert.ok(Date.now() < deadline, `job ${jobId} still ${job.status} after ${JOB_TIMEOUT_MS} ms`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  test('cancelJob cancels a running job, getJob shows it cancelled, and the slot is free again', async () => {
    const { sas } = await newContainer();
    const { port } = blackHole.address();
    const unanswered = `http://127.0.0.1:${port}/devstoreaccount1/never?sv=2024-08-04&sig=abc`;

    const job = await registry.importDevicesFromBlob(unanswered, sas);
    assert.ok(['enqueued', 'running'].includes(job.status), `a new job is enqueued or running, got ${job.status}`);

    const cancelled = await registry.cancelJob(job.jobId);

    assert.equal(cancelled.jobId, job.jobId);
    assert.equal(cancelled.status, 'cancelled');
    assert.equal((await waitForEnd(job.jobId)).status, 'cancelled');
    const next = await waitForEnd((await registry.exportDevicesToBlob(sas, true)).jobId);
    assert.equal(next.status, 'completed');
  });

  test('exportDevicesToBlob then importDevicesFromBlob into the emptied registry gives the same identities, keys included', async () => {
    const devices = [0, 1, 2, 3].map((i) => ({
      deviceId: uniqueId('job-trip'),
      status: i % 2 ? 'disabled' : 'enabled',
      authentication: { symmetricKey: { primaryKey: newKey(), secondaryKey: newKey() } },
    }));
    await registry.addDevices(devices);
    const { container, sas } = await newContainer();

    const exported = await registry.exportDevicesToBlob(sas, false);
    assert.equal(exported.type, 'export');
    const exportEnded = await waitForEnd(exported.jobId);
    assert.equal(exportEnded.status, 'completed', exportEnded.failureReason);
    assert.equal(exportEnded.progress, 100);
    const lines = (await readLines(container, 'devices.txt')).map((line) => JSON.parse(line));
    for (const device of devices) {
      const line = lines.find((l) => l.id === device.deviceId);
      assert.ok(line, `${device.deviceId} is in the export`);
      assert.deepEqual(line.authentication.symmetricKey, device.authentication.symmetricKey);
    }

    await registry.removeDevices(devices.map(({ deviceId }) => ({ deviceId })), true);
    const imported = await registry.importDevicesFromBlob(sas, sas);
    assert.equal(imported.type, 'import');
    const importEnded = await waitForEnd(imported.jobId);

    assert.equal(importEnded.status, 'completed', importEnded.failureReason);
    assert.deepEqual(await readLines(container, 'importErrors.log'), []);
    for (const device of devices) {
      const { responseBody } = await registry.get(device.deviceId);
      assert.equal(responseBody.status, device.status);
      assert.deepEqual(responseBody.authentication.symmetricKey, device.authentication.symmetricKey);
    }
    const { responseBody: jobs } = await registry.listJobs();
    const listed = new Map(jobs.map((j) => [j.jobId, j]));
    assert.equal(listed.get(exported.jobId)?.status, 'completed');
    assert.equal(listed.get(imported.jobId)?.status, 'completed');
  });

  test('an import whose SAS signature is forged fails with a reason and creates nothing', async () => {
    const { container, sas } = await newContainer();
    const deviceId = uniqueId('job-forged');
    await container.getBlockBlobClient('devices.txt').upload(JSON.stringify({ id: deviceId }), Buffer.byteLength(JSON.stringify({ id: deviceId })));
    const forged = sas.replace(/sig=[^&]+/, 'sig=AAAA');

    const job = await waitForEnd((await registry.importDevicesFromBlob(forged, sas)).jobId);

    assert.equal(job.status, 'failed');
    assert.match(job.failureReason, /403/);
    await rejectsWith(registry.get(deviceId), 'DeviceNotFoundError', 404);
  });

  test('getJob of an unknown job id rejects as the SDK reads IoT Hub\'s 404 JobNotFound: "Not found"', async () => {
    // The SDK's translateError names only DeviceNotFound and IotHubNotFound among 404s; the code is in the body.
    await assert.rejects(registry.getJob('00000000-0000-0000-0000-000000000000'), (error) => {
      assert.equal(error.message, 'Not found');
      assert.equal(error.response?.statusCode, 404);
      assert.match(error.responseBody, /ErrorCode:JobNotFound;/);
      return true;
    });
  });
});
