'use strict';
// Port-map shim (docs/wire-contract.md §12): the official SDKs only dial
// <HostName>:443 (8883 for MQTT), so when the registry cannot listen there, this rewrites the *port* of
// connections to loopback hosts before they are made. SDK code is left untouched; only tls.connect and
// net.connect/net.createConnection are wrapped, and only for loopback hosts (localhost, 127.0.0.0/8, ::1).
//
// Two ways to use it:
//  - as a preload, exactly like the recipe of docs/wire-contract.md §12:
//      NODE_OPTIONS="--require /abs/path/portmap.js" IOTHUB_PORT_MAP="443:8443,8883:8884" node app.js
//    Entries are `from:to` (any loopback host) or `host:from:to` (that host only, e.g. `127.0.0.2:443:9443`).
//  - in-process: require('./portmap').map(host, 443, actualPort) before the SDK connects.
// The host is compared as the SDK passes it (the HostName of the connection string), so the TLS server name
// and certificate check still see the real HostName: only the TCP port changes.

const net = require('node:net');
const tls = require('node:tls');

const ANY_HOST = '*';
const INSTALLED = Symbol.for('registry-orleans.sdk-tests.portmap');

/** `${host}|${port}` → port; host ANY_HOST applies to every loopback host. */
const mappings = new Map();

function isLoopback(host) {
  if (host === undefined || host === null || host === '') return true; // net/tls default to localhost
  const h = String(host).replace(/^\[|\]$/g, '').toLowerCase();
  return h === 'localhost' || h === '::1' || h === '0:0:0:0:0:0:0:1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h);
}

function lookup(host, port) {
  const key = host === undefined || host === null || host === '' ? 'localhost' : String(host).toLowerCase();
  return mappings.get(`${key}|${port}`) ?? mappings.get(`${ANY_HOST}|${port}`);
}

/**
 * The (options, rest) form of the overloads tls.connect and net.connect accept:
 * (options[, cb]) | (port[, host][, options][, cb]) | (path[, options][, cb]).
 */
function normalize(args) {
  if (args[0] !== null && typeof args[0] === 'object') {
    return { options: { ...args[0] }, rest: args.slice(1) };
  }
  const options = {};
  let i = 0;
  if (typeof args[0] === 'number' || (typeof args[0] === 'string' && /^\d+$/.test(args[0]))) {
    options.port = Number(args[0]);
    i = 1;
    if (typeof args[1] === 'string') {
      options.host = args[1];
      i = 2;
    }
  } else if (typeof args[0] === 'string') {
    options.path = args[0];
    i = 1;
  }
  if (args[i] !== null && typeof args[i] === 'object') {
    // Explicit port/host arguments win over the options object, as in Node itself.
    Object.assign(options, { ...args[i], ...options });
    i += 1;
  }
  return { options, rest: args.slice(i) };
}

function rewrite(args) {
  const { options, rest } = normalize(args);
  // (http passes its request path in these options too, so `path` alone does not mean a unix socket.)
  if (options.port === undefined || options.port === null || !isLoopback(options.host)) {
    return args;
  }
  const to = lookup(options.host, Number(options.port));
  if (to === undefined) {
    return args;
  }
  return [{ ...options, port: to }, ...rest];
}

function install() {
  if (globalThis[INSTALLED]) return;
  globalThis[INSTALLED] = true;
  const tlsConnect = tls.connect;
  tls.connect = function connect(...args) {
    return tlsConnect.apply(this, rewrite(args));
  };
  const netConnect = net.connect;
  net.connect = function connect(...args) {
    return netConnect.apply(this, rewrite(args));
  };
  net.createConnection = net.connect;
}

/** Sends connections for `host:fromPort` (host as written in the connection string; '*' = any loopback host) to `toPort`. */
function map(host, fromPort, toPort) {
  if (host !== ANY_HOST && !isLoopback(host)) {
    throw new Error(`portmap only rewrites loopback hosts, not '${host}'`);
  }
  install();
  mappings.set(`${String(host).toLowerCase()}|${Number(fromPort)}`, Number(toPort));
}

function unmap(host, fromPort) {
  mappings.delete(`${String(host).toLowerCase()}|${Number(fromPort)}`);
}

/** Parses IOTHUB_PORT_MAP ("443:8443,8883:8884" or "127.0.0.2:443:9443"). */
function parse(spec) {
  return String(spec)
    .split(',')
    .map((entry) => entry.trim())
    .filter(Boolean)
    .map((entry) => {
      const parts = entry.split(':');
      const [host, from, to] = parts.length === 2 ? [ANY_HOST, ...parts] : parts;
      if (parts.length < 2 || parts.length > 3 || !/^\d+$/.test(from) || !/^\d+$/.test(to)) {
        throw new Error(`IOTHUB_PORT_MAP entry '${entry}' is not [host:]from:to`);
      }
      return { host, from: Number(from), to: Number(to) };
    });
}

/** The IOTHUB_PORT_MAP value that reproduces `entries` in a child process. */
function format(entries) {
  return entries.map(({ host, from, to }) => (host === ANY_HOST ? `${from}:${to}` : `${host}:${from}:${to}`)).join(',');
}

if (process.env.IOTHUB_PORT_MAP) {
  for (const { host, from, to } of parse(process.env.IOTHUB_PORT_MAP)) {
    map(host, from, to);
  }
}

module.exports = { map, unmap, parse, format, isLoopback, ANY_HOST };
