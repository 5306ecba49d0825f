'use strict';
// How the SDKs in this process come to trust a registry's generated CA.
//
// Users do it with NODE_EXTRA_CA_CERTS=<DataFolder>/certs/ca.pem (docs/wire-contract.md §12), but Node reads that variable
// once, at process start, and the CA only exists once the registry this test file starts has generated it;
// setting process.env.NODE_EXTRA_CA_CERTS afterwards does nothing. The alternatives do not reach the Registry
// either: it has no CA option (its constructor overwrites setOptions with its own https.Agent), so
// https.globalAgent.options.ca is never consulted, and tls.setDefaultCACertificates() only exists from Node 22.19.
//
// So, like the port-map shim, this wraps tls.connect and adds the registry's CA to connections for that
// registry's host name only (the HostName of the connection string), leaving the default trust store and
// every other connection alone; a caller that passes its own `ca` keeps it. The documented NODE_EXTRA_CA_CERTS
// recipe is still exercised end to end by a test that runs the SDK in a child process started with it.

const tls = require('node:tls');

const INSTALLED = Symbol.for('registry-orleans.sdk-tests.trust');

/** lower-case host → PEM */
const authorities = new Map();

function hostOf(args) {
  if (args[0] !== null && typeof args[0] === 'object') return args[0].host;
  if (typeof args[1] === 'string') return args[1];
  if (args[1] !== null && typeof args[1] === 'object') return args[1].host;
  return undefined;
}

function install() {
  if (globalThis[INSTALLED]) return;
  globalThis[INSTALLED] = true;
  const connect = tls.connect;
  tls.connect = function trustingConnect(...args) {
    const host = hostOf(args);
    const pem = host === undefined ? undefined : authorities.get(String(host).toLowerCase());
    if (pem !== undefined) {
      const index = args.findIndex((a) => a !== null && typeof a === 'object');
      if (index >= 0 && args[index].ca === undefined && args[index].secureContext === undefined) {
        args = [...args];
        args[index] = { ...args[index], ca: pem };
      } else if (index < 0) {
        const callback = typeof args[args.length - 1] === 'function' ? [args.pop()] : [];
        args = [...args, { ca: pem }, ...callback];
      }
    }
    return connect.apply(this, args);
  };
}

/** Trusts `pem` (and only it) for TLS connections to `host`. */
function trust(host, pem) {
  install();
  authorities.set(String(host).toLowerCase(), pem);
}

function untrust(host) {
  authorities.delete(String(host).toLowerCase());
}

module.exports = { trust, untrust };
