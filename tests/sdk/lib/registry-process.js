'use strict';
// Starts the real registry executable (the Release build of src/Registry.Host, exactly what users run) for one
// test file, and stops it again.
//
// - Each registry gets a fresh temp DataFolder, its own Orleans ClusterId/ServiceId and free silo/gateway ports.
// - HTTPS: the official SDKs only dial <HostName>:443 (docs/wire-contract.md §12). When this process may bind low ports
//   (root, as in CI, or net.ipv4.ip_unprivileged_port_start <= 443) the registry listens on <address>:443 for
//   real. Otherwise, or when that port is taken (another registry, another test run), it listens on a free port
//   and ./portmap.js sends this process's connections for <HostName>:443 there. Test files that run at the same
//   time use different loopback addresses (127.0.0.1 with HostName localhost, 127.0.0.N with HostName
//   127.0.0.N), so each can have its own :443.
// - TLS trust: ./trust.js adds the registry's generated CA for that HostName (see there for why not
//   NODE_EXTRA_CA_CERTS in-process).
// - Readiness is the host's own "Registry listening on ..." log line (written once Orleans and Kestrel are both
//   started), then one GET /healthz through the same HostName:443 route the SDK takes. No sleeps.
// - Stopping: SIGTERM, wait for exit (bounded), then SIGKILL. If the test process exits or is signalled first,
//   the registry is killed too.

const { spawn } = require('node:child_process');
const crypto = require('node:crypto');
const fs = require('node:fs');
const https = require('node:https');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');

const portmap = require('./portmap');
const { trust, untrust } = require('./trust');

const REPO = path.resolve(__dirname, '..', '..', '..');
const HOST_DLL = path.join(REPO, 'src', 'Registry.Host', 'bin', 'Release', 'net10.0', 'Registry.Host.dll');
const LOG_FOLDER = path.join(REPO, 'TestResults', 'sdk');
const STARTUP_TIMEOUT_MS = 90_000;
const STOP_TIMEOUT_MS = 15_000;
const READY_LINE = /Registry listening on (\S+?),? .*for host name (\S+)/;
const MQTT_ENDPOINT = /mqtts:\/\/\S+?:(\d+)/;
const BIND_FAILURE = /address already in use|permission denied|access denied|EACCES|EADDRINUSE/i;

const running = new Set();
const dataFolders = new Set();

/** May this process (and the dotnet child it starts) bind port 443? */
function canBindPrivilegedPorts() {
  if (process.env.SDK_TESTS_FORCE_PORTMAP === '1') return false;
  if (typeof process.getuid === 'function' && process.getuid() === 0) return true;
  try {
    return Number(fs.readFileSync('/proc/sys/net/ipv4/ip_unprivileged_port_start', 'utf8')) <= 443;
  } catch {
    return false;
  }
}

/** `count` distinct free TCP ports on 127.0.0.1, held open together so they differ, then released. */
async function freePorts(count) {
  const servers = [];
  try {
    for (let i = 0; i < count; i++) {
      const server = net.createServer();
      servers.push(server);
      await new Promise((resolve, reject) => {
        server.once('error', reject);
        server.listen(0, '127.0.0.1', resolve);
      });
    }
    return servers.map((s) => s.address().port);
  } finally {
    await Promise.all(servers.map((s) => new Promise((resolve) => s.close(() => resolve()))));
  }
}

/** The environment of the child: ours without any Registry setting, so only what the test asks for applies. */
function childEnvironment(settings) {
  const env = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (!/^registry(__|:)/i.test(key) && key !== 'NODE_OPTIONS') env[key] = value;
  }
  env.DOTNET_NOLOGO = '1';
  env.DOTNET_CLI_TELEMETRY_OPTOUT = '1';
  for (const [key, value] of Object.entries(settings)) {
    env[`Registry__${key.replace(/[:.]/g, '__')}`] = String(value);
  }
  return env;
}

/** Synchronous last resort when this process ends without the after() hooks: kill every registry, drop its files. */
function cleanupSync() {
  for (const child of running) {
    try {
      child.kill('SIGKILL');
    } catch {
      // already gone
    }
  }
  for (const folder of dataFolders) fs.rmSync(folder, { recursive: true, force: true });
}

let cleanupInstalled = false;
function installCleanup() {
  if (cleanupInstalled) return;
  cleanupInstalled = true;
  process.on('exit', cleanupSync);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
    const onSignal = () => {
      cleanupSync();
      // Someone else (the test runner) handles the signal too: let it. Otherwise die as the signal intends.
      if (process.listenerCount(signal) === 1) {
        process.removeListener(signal, onSignal);
        process.kill(process.pid, signal);
      }
    };
    process.on(signal, onSignal);
  }
}

/** One attempt: spawn, then resolve on the ready line or reject on exit/timeout (with the output so far). */
function launch({ settings, logPath }) {
  const child = spawn('dotnet', [HOST_DLL], {
    // The dll's folder, as when a user runs the build output: its appsettings.json (log levels) applies.
    cwd: path.dirname(HOST_DLL),
    env: childEnvironment(settings),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  running.add(child);
  const log = fs.createWriteStream(logPath, { flags: 'a' });
  const exited = new Promise((resolve) => {
    // 'close', not 'exit': by then stdout/stderr are drained, so a bind error is in `output`.
    child.once('close', (code, signal) => {
      running.delete(child);
      resolve({ code, signal });
    });
    child.once('error', (error) => {
      running.delete(child);
      resolve({ code: null, signal: null, error });
    });
  });
  let output = '';
  const ready = new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      reject(Object.assign(new Error(`no "Registry listening on" line within ${STARTUP_TIMEOUT_MS} ms`), { timedOut: true }));
    }, STARTUP_TIMEOUT_MS);
    let buffered = '';
    const onData = (chunk) => {
      const text = chunk.toString('utf8');
      log.write(text);
      output += text;
      buffered += text;
      const lines = buffered.split(/\r?\n/);
      buffered = lines.pop();
      for (const line of lines) {
        const match = READY_LINE.exec(line);
        if (match) {
          clearTimeout(timer);
          resolve({ url: new URL(match[1]), hostName: match[2], mqttPort: Number(MQTT_ENDPOINT.exec(line)?.[1]) });
        }
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    exited.then(({ code, signal, error }) => {
      clearTimeout(timer);
      reject(error ?? new Error(`the registry exited (code ${code}, signal ${signal}) before it was ready`));
    });
  });
  ready.catch(() => {});
  return { child, exited, ready, output: () => output, closeLog: () => log.end() };
}

async function terminate(child, exited) {
  if (child.exitCode !== null || child.signalCode !== null) return exited;
  child.kill('SIGTERM');
  let timer;
  const bounded = await Promise.race([
    exited,
    new Promise((resolve) => {
      timer = setTimeout(() => resolve(undefined), STOP_TIMEOUT_MS);
    }),
  ]);
  clearTimeout(timer);
  if (bounded === undefined) {
    child.kill('SIGKILL');
    return exited;
  }
  return bounded;
}

/** GET https://<hostName>/healthz through the route the SDK takes (port map and trust included). */
function healthz(hostName) {
  return new Promise((resolve, reject) => {
    const request = https.get({ host: hostName, port: 443, path: '/healthz', agent: false, timeout: 10_000 }, (response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (c) => (body += c));
      response.on('end', () =>
        response.statusCode === 200 ? resolve(body) : reject(new Error(`/healthz answered ${response.statusCode}: ${body}`)));
    });
    request.on('timeout', () => request.destroy(new Error('/healthz timed out')));
    request.on('error', reject);
  });
}

/**
 * The file a registry's output goes to: under TestResults/sdk (gitignored), outside the data folder that stop()
 * removes, so a failed run can be read afterwards; in the data folder when TestResults is not writable.
 */
function createLog(name, dataFolder) {
  try {
    fs.mkdirSync(LOG_FOLDER, { recursive: true });
    const file = path.join(LOG_FOLDER, name);
    fs.writeFileSync(file, '');
    return file;
  } catch {
    return path.join(dataFolder, name);
  }
}

function tail(text, lines = 40) {
  return text.split(/\r?\n/).slice(-lines).join('\n');
}

/**
 * Starts a registry and waits until it serves. Options:
 * - address: loopback address to listen on (default 127.0.0.1). Files that run concurrently use different ones.
 * - hostName: the registry's HostName (default 'localhost' for 127.0.0.1, else the address itself).
 * - settings: extra Registry settings, e.g. { 'Throttling:Enabled': true } → Registry__Throttling__Enabled=true.
 */
async function startRegistry({ address = '127.0.0.1', hostName, settings = {} } = {}) {
  if (!fs.existsSync(HOST_DLL)) {
    throw new Error(`${HOST_DLL} is missing: build it first with "dotnet build Registry.Orleans.sln -c Release" (tests/run.sh does).`);
  }
  hostName ??= address === '127.0.0.1' ? 'localhost' : address;
  if (!portmap.isLoopback(hostName)) throw new Error(`hostName must be a loopback name, not ${hostName}`);
  installCleanup();

  const dataFolder = fs.mkdtempSync(path.join(os.tmpdir(), 'registry-sdk-'));
  dataFolders.add(dataFolder);
  const logPath = createLog(`registry-${hostName}.log`, dataFolder);
  const id = `sdk-${process.pid}-${crypto.randomBytes(4).toString('hex')}`;
  const registry = new RunningRegistry({ address, hostName, dataFolder, logPath, id, settings });
  try {
    await registry.start();
  } catch (error) {
    fs.rmSync(dataFolder, { recursive: true, force: true });
    dataFolders.delete(dataFolder);
    throw error;
  }
  return registry;
}

class RunningRegistry {
  constructor({ address, hostName, dataFolder, logPath, id, settings }) {
    Object.assign(this, { address, hostName, dataFolder, logPath, id, settings });
    this.caPath = path.join(dataFolder, 'certs', 'ca.pem');
    this.process = undefined;
  }

  /** The registry process's output so far, stdout and stderr (every run's is also kept in this.logPath). */
  get log() {
    return this.process?.output() ?? '';
  }

  /**
   * Starts the process (again) on this data folder. 443 for real when allowed; after a bind failure (443 taken
   * or refused, or a silo port lost to a race) the next attempt uses a free HTTPS port behind the port map, with
   * fresh silo ports.
   */
  async start() {
    if (this.process) throw new Error('the registry is already running');
    let use443 = canBindPrivilegedPorts();
    const maxAttempts = 3;
    for (let attempt = 1; ; attempt++) {
      const httpsPort = use443 ? 443 : 0;
      const [siloPort, gatewayPort] = await freePorts(2);
      const launched = launch({
        logPath: this.logPath,
        settings: {
          DataFolder: this.dataFolder,
          HostName: this.hostName,
          ListenAddress: this.address,
          HttpsPort: httpsPort,
          SiloPort: siloPort,
          GatewayPort: gatewayPort,
          // A free MQTT port: test files run at once; the device SDK reaches it through GatewayHostName=host:port.
          MqttPort: 0,
          ClusterId: this.id,
          ServiceId: this.id,
          ...this.settings,
        },
      });
      let url;
      let mqttPort;
      try {
        ({ url, mqttPort } = await launched.ready);
      } catch (error) {
        await terminate(launched.child, launched.exited);
        launched.closeLog();
        const output = launched.output();
        if (error.timedOut || !BIND_FAILURE.test(output) || attempt === maxAttempts) {
          throw new Error(`${error.message}\n--- last registry output (${this.address}, HttpsPort ${httpsPort}, attempt ${attempt}; all of it in ${this.logPath}) ---\n${tail(output)}`);
        }
        use443 = false;
        continue;
      }
      this.process = launched;
      this.port = Number(url.port || 443);
      this.mqttPort = mqttPort;
      this.viaPortMap = this.port !== 443;
      this.caPem = fs.readFileSync(this.caPath, 'utf8');
      trust(this.hostName, this.caPem);
      if (this.viaPortMap) portmap.map(this.hostName, 443, this.port);
      else portmap.unmap(this.hostName, 443);
      try {
        await healthz(this.hostName);
      } catch (error) {
        await this.kill();
        throw new Error(`the registry logged it listens on ${url}, but GET https://${this.hostName}/healthz failed: ${error.message}`);
      }
      return;
    }
  }

  /** Stops the process (SIGTERM, then SIGKILL after a bound) and keeps the data folder, e.g. to start() again. */
  async kill() {
    const launched = this.process;
    if (!launched) return;
    this.process = undefined;
    try {
      await terminate(launched.child, launched.exited);
    } finally {
      launched.closeLog();
      untrust(this.hostName);
      portmap.unmap(this.hostName, 443);
    }
  }

  /** The process stops and the data folder goes. */
  async stop() {
    try {
      await this.kill();
    } finally {
      fs.rmSync(this.dataFolder, { recursive: true, force: true });
      dataFolders.delete(this.dataFolder);
    }
  }

  /** A file the host generated in its data folder, parsed, or undefined when there is none. */
  readDataFile(name) {
    const file = path.join(this.dataFolder, name);
    return fs.existsSync(file) ? JSON.parse(fs.readFileSync(file, 'utf8')) : undefined;
  }
}

module.exports = { startRegistry, HOST_DLL };
