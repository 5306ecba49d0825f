'use strict';
// Azurite's blob service (tests/node's pinned package) for one test file: the containers that import/export jobs read
// and write, reached by SAS URIs. In memory, on a free loopback port; ready on its own "successfully listens" line
// (no sleeps); stopped by SIGTERM then SIGKILL, and killed too if this process exits first.

const { spawn } = require('node:child_process');
const net = require('node:net');
const path = require('node:path');

const { StorageSharedKeyCredential, BlobServiceClient } = require('@azure/storage-blob');

const ACCOUNT = 'devstoreaccount1';
// Azurite's well-known development key (public, the same in every Azurite).
const KEY = 'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==';
const MAIN = path.join(path.dirname(require.resolve('azurite/package.json')), 'dist', 'src', 'blob', 'main.js');
const READY = /successfully listens on (http:\/\/\S+)/;
const TIMEOUT_MS = 60_000;

async function freePort() {
  const server = net.createServer();
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const { port } = server.address();
  await new Promise((resolve) => server.close(() => resolve()));
  return port;
}

/** Starts Azurite's blob service; resolves with { serviceClient, stop() } once it listens. */
async function startAzuriteBlob() {
  const port = await freePort();
  const child = spawn(process.execPath, [MAIN, '--blobHost', '127.0.0.1', '--blobPort', String(port),
    '--inMemoryPersistence', '--skipApiVersionCheck', '--disableTelemetry', '--silent'], { stdio: ['ignore', 'pipe', 'pipe'] });
  const killOnExit = () => child.kill('SIGKILL');
  process.on('exit', killOnExit);
  const exited = new Promise((resolve) => child.once('close', resolve));
  let output = '';
  await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`Azurite did not listen within ${TIMEOUT_MS} ms:\n${output}`)), TIMEOUT_MS);
    const onData = (chunk) => {
      output += chunk.toString('utf8');
      if (READY.test(output)) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`Azurite exited (code ${code}) before it listened:\n${output}`));
    });
  }).catch(async (error) => {
    child.kill('SIGKILL');
    await exited;
    throw error;
  });

  const url = `http://127.0.0.1:${port}/${ACCOUNT}`;
  return {
    url,
    serviceClient: new BlobServiceClient(url, new StorageSharedKeyCredential(ACCOUNT, KEY)),
    async stop() {
      process.removeListener('exit', killOnExit);
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      let timer;
      const stopped = await Promise.race([exited.then(() => true), new Promise((r) => { timer = setTimeout(() => r(false), 10_000); })]);
      clearTimeout(timer);
      if (!stopped) {
        child.kill('SIGKILL');
        await exited;
      }
    },
  };
}

module.exports = { startAzuriteBlob };
