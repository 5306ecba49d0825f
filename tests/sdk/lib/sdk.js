'use strict';
// What the SDK test files share: the official packages (resolved through NODE_PATH=tests/node/node_modules),
// connection strings for a running registry, unique ids and assertions on the SDK's error classes.

const assert = require('node:assert/strict');
const crypto = require('node:crypto');

const iothub = require('azure-iothub');
const common = require('azure-iot-common');
// azure-iothub 1.16.6 ships its own copy of azure-iot-common's errors (dist/common-core/errors.js) and throws
// those: same names and shapes, but `err instanceof require('azure-iot-common').errors.X` is false. The suite
// checks both the class the Registry really throws and that its name is the azure-iot-common class's name.
const registryErrors = require('azure-iothub/dist/common-core/errors');

/** Every character IoT Hub allows in a device id besides letters and digits (docs/wire-contract.md §4). */
const ID_SPECIAL_CHARACTERS = "-:.+%_#*?!(),=@;$'";
/** The id whose Node SDK encoding was captured on the wire, one of each special character (docs/wire-contract.md §1). */
const CAPTURED_ID = "a-b:c.d+e%f_g#h*i?j!k(l)m,n=o@p;q$r'";

let sequence = 0;
const runTag = crypto.randomBytes(3).toString('hex');

/** A device id no other test uses: `<prefix>-<run>-<n>`. */
function uniqueId(prefix) {
  sequence += 1;
  return `${prefix}-${runTag}-${sequence}`;
}

/** A random symmetric key of `bytes` bytes, base64, as IoT Hub generates them (32 bytes). */
function newKey(bytes = 32) {
  return crypto.randomBytes(bytes).toString('base64');
}

/** `count` random hex characters (a thumbprint is 40 or 64). */
function hex(count) {
  return crypto.randomBytes(Math.ceil(count / 2)).toString('hex').slice(0, count).toUpperCase();
}

/** The service connection string for `registry`, with the policy's key from the file the host generated. */
function connectionString(registry, { keyName = 'iothubowner', key } = {}) {
  return `HostName=${registry.hostName};SharedAccessKeyName=${keyName};SharedAccessKey=${key ?? policyKey(registry, keyName)}`;
}

function policyKey(registry, keyName) {
  const policies = readPolicies(registry);
  if (policies === undefined) throw new Error(`the registry wrote no access-policies.json into ${registry.dataFolder}`);
  const policy = policies.find((p) => p.keyName === keyName);
  if (!policy) throw new Error(`the registry's access policies have no '${keyName}'`);
  return policy.primaryKey;
}

/**
 * The shared access policies the host generated into <DataFolder>/access-policies.json (Registry.Host
 * AccessPolicyStore: {"policies":[{"keyName","primaryKey","secondaryKey","rights":"RegistryRead, ..."}]}),
 * or undefined when there is no such file.
 */
function readPolicies(registry) {
  const file = registry.readDataFile('access-policies.json');
  if (file === undefined) return undefined;
  return file.policies.map(({ keyName, primaryKey, secondaryKey, rights }) => ({ keyName, primaryKey, secondaryKey, rights }));
}

function registryFor(registry, options) {
  return iothub.Registry.fromConnectionString(connectionString(registry, options));
}

/**
 * Awaits `promise`, which must reject with the SDK error class `className` (e.g. 'DeviceNotFoundError') after an
 * HTTP answer with `status`; returns the error for further checks.
 */
async function rejectsWith(promise, className, status) {
  let error;
  try {
    await promise;
  } catch (e) {
    error = e;
  }
  assert.ok(error, `expected ${className}, but the call succeeded`);
  const describe = `${error.name}: ${error.message}${error.responseBody ? ` (body ${error.responseBody})` : ''}`;
  assert.ok(registryErrors[className], `azure-iothub has no error class ${className}`);
  assert.ok(error instanceof registryErrors[className], `expected ${className}, got ${describe}`);
  assert.equal(error.name, common.errors[className].name, `expected the azure-iot-common name ${className}, got ${describe}`);
  if (status !== undefined) {
    assert.equal(error.response?.statusCode, status, `expected HTTP ${status} behind ${className}, got ${describe}`);
  }
  return error;
}

/** Base64 `text` decodes to exactly `bytes` bytes and re-encodes to itself. */
function assertKey(text, bytes, label) {
  assert.equal(typeof text, 'string', `${label} should be a base64 string, got ${text}`);
  const decoded = Buffer.from(text, 'base64');
  assert.equal(decoded.toString('base64'), text, `${label} is not canonical base64: ${text}`);
  assert.equal(decoded.length, bytes, `${label} should decode to ${bytes} bytes`);
}

module.exports = {
  iothub,
  common,
  registryErrors,
  ID_SPECIAL_CHARACTERS,
  CAPTURED_ID,
  uniqueId,
  newKey,
  hex,
  connectionString,
  readPolicies,
  registryFor,
  rejectsWith,
  assertKey,
};
