// What the JS SDK suites (cloudfront.mjs, distribution.mjs) share: their
// environment, the client and the error check. Not a suite itself.
//
// compat/run.sh starts the server and sets OPENFRONT_ENDPOINT and
// OPENFRONT_DISTRIBUTION_ID; a suite run without them exits 2 at import.
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { createRequire } from "node:module";
import { basename } from "node:path";

import { CloudFrontClient, CloudFrontServiceException } from "@aws-sdk/client-cloudfront";

const suite = basename(process.argv[1] ?? "compat/js");

export function env(name) {
  const v = process.env[name];
  if (!v) {
    console.error(`${suite}: ${name} is not set; run compat/run.sh, which starts the server`);
    process.exit(2);
  }
  return v;
}

export const ENDPOINT = env("OPENFRONT_ENDPOINT");
// The distribution of the server's config file.
export const DIST = env("OPENFRONT_DISTRIBUTION_ID");
export const UNKNOWN_DIST = "ENOSUCHDIST0001";

const sdkVersion = createRequire(import.meta.url)("@aws-sdk/client-cloudfront/package.json").version;
console.log(`@aws-sdk/client-cloudfront ${sdkVersion}, Node ${process.version}, endpoint ${ENDPOINT}`);

export const client = new CloudFrontClient({
  endpoint: ENDPOINT,
  region: "us-east-1",
  // Open mode accepts any keys.
  credentials: { accessKeyId: "AKIAOPENMODEDUMMY", secretAccessKey: "open-mode-accepts-any-secret" },
  // One attempt: a retried 5xx must not hide a server fault.
  maxAttempts: 1,
});

// uniqueRef(prefix): a CallerReference no other test (or earlier run) uses.
export const uniqueRef = (prefix) => `${prefix}-${randomUUID()}`;

// rejects(promise, name, status, modeledClass?): the call fails with the
// CloudFront error code as error.name and the HTTP status in $metadata;
// when the service model defines the error, as the SDK's modeled class.
export async function rejects(promise, name, status, modeledClass) {
  let err;
  try {
    await promise;
  } catch (e) {
    err = e;
  }
  assert.ok(err, `expected ${name}, the call succeeded`);
  assert.equal(err.name, name, `error.name (message: ${err.message})`);
  assert.equal(err.$metadata?.httpStatusCode, status, `$metadata.httpStatusCode of ${name}`);
  assert.ok(err.message && err.message !== "UnknownError", `error message: ${err.message}`);
  assert.equal(err.$fault, "client");
  assert.ok(err instanceof CloudFrontServiceException, `${name} is a CloudFrontServiceException`);
  if (modeledClass) assert.ok(err instanceof modeledClass, `${name} is the SDK's modeled ${modeledClass.name}`);
  return err;
}
