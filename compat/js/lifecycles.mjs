// openfront's policy and origin access APIs driven by the AWS SDK for
// JavaScript v3 (@aws-sdk/client-cloudfront), unmodified. For each of a
// cache policy, an origin request policy, a response headers policy and an
// origin access control: create, get, list, update, delete, with a stale
// If-Match (PreconditionFailed), a missing one (InvalidIfMatchVersion) and
// an unknown Id (NoSuch...), each as the SDK's modeled error class.
// Expectations are CloudFront's behaviour.
//
// While the server answers ListCachePolicies with 501 NotImplemented (a
// build without the policy API), the suite prints a SKIP line (also
// appended to $COMPAT_SKIPS) and exits 0.
//
// Run by compat/run.sh, which starts the server and sets
// OPENFRONT_ENDPOINT and OPENFRONT_DISTRIBUTION_ID (see lib.mjs).
import assert from "node:assert/strict";
import { appendFileSync } from "node:fs";
import { test } from "node:test";

import * as cf from "@aws-sdk/client-cloudfront";

import { client, rejects } from "./lib.mjs";

const send = (command) => client.send(command);

try {
  await send(new cf.ListCachePoliciesCommand({}));
} catch (e) {
  if (e.name !== "NotImplemented") throw e;
  const line = "SKIP js-lifecycles: ListCachePolicies answers 501 NotImplemented (the policy API is not in this build)";
  console.log(line);
  if (process.env.COMPAT_SKIPS) appendFileSync(process.env.COMPAT_SKIPS, line + "\n");
  process.exit(0);
}

const configs = {
  CachePolicy: (name, comment) => ({
    Name: name,
    Comment: comment,
    MinTTL: 1,
    DefaultTTL: 3600,
    MaxTTL: 86400,
    ParametersInCacheKeyAndForwardedToOrigin: {
      EnableAcceptEncodingGzip: true,
      EnableAcceptEncodingBrotli: true,
      HeadersConfig: { HeaderBehavior: "whitelist", Headers: { Quantity: 1, Items: ["Origin"] } },
      CookiesConfig: { CookieBehavior: "none" },
      QueryStringsConfig: { QueryStringBehavior: "whitelist", QueryStrings: { Quantity: 2, Items: ["v", "lang"] } },
    },
  }),
  OriginRequestPolicy: (name, comment) => ({
    Name: name,
    Comment: comment,
    HeadersConfig: { HeaderBehavior: "allViewer" },
    CookiesConfig: { CookieBehavior: "whitelist", Cookies: { Quantity: 1, Items: ["session"] } },
    QueryStringsConfig: { QueryStringBehavior: "all" },
  }),
  ResponseHeadersPolicy: (name, comment) => ({
    Name: name,
    Comment: comment,
    CorsConfig: {
      AccessControlAllowOrigins: { Quantity: 1, Items: ["https://app.example.com"] },
      AccessControlAllowHeaders: { Quantity: 1, Items: ["*"] },
      AccessControlAllowMethods: { Quantity: 3, Items: ["GET", "HEAD", "OPTIONS"] },
      AccessControlAllowCredentials: false,
      AccessControlExposeHeaders: { Quantity: 1, Items: ["X-Request-Id"] },
      AccessControlMaxAgeSec: 600,
      OriginOverride: false,
    },
    SecurityHeadersConfig: {
      XSSProtection: { Override: true, Protection: true, ModeBlock: true },
      ContentSecurityPolicy: { Override: true, ContentSecurityPolicy: "default-src 'self'" },
    },
    ServerTimingHeadersConfig: { Enabled: true, SamplingRate: 50 },
  }),
  OriginAccessControl: (name, description) => ({
    Name: name,
    Description: description,
    SigningProtocol: "sigv4",
    SigningBehavior: "always",
    OriginAccessControlOriginType: "s3",
  }),
};

// kinds: the commands, the list's shape and the NoSuch... error of each.
const kinds = {
  CachePolicy: {
    create: cf.CreateCachePolicyCommand, get: cf.GetCachePolicyCommand, update: cf.UpdateCachePolicyCommand,
    delete: cf.DeleteCachePolicyCommand, noSuch: cf.NoSuchCachePolicy, comment: "Comment",
    list: async () => (await send(new cf.ListCachePoliciesCommand({ Type: "custom" }))).CachePolicyList.Items?.map((i) => i.CachePolicy.Id) ?? [],
  },
  OriginRequestPolicy: {
    create: cf.CreateOriginRequestPolicyCommand, get: cf.GetOriginRequestPolicyCommand, update: cf.UpdateOriginRequestPolicyCommand,
    delete: cf.DeleteOriginRequestPolicyCommand, noSuch: cf.NoSuchOriginRequestPolicy, comment: "Comment",
    list: async () => (await send(new cf.ListOriginRequestPoliciesCommand({ Type: "custom" }))).OriginRequestPolicyList.Items?.map((i) => i.OriginRequestPolicy.Id) ?? [],
  },
  ResponseHeadersPolicy: {
    create: cf.CreateResponseHeadersPolicyCommand, get: cf.GetResponseHeadersPolicyCommand, update: cf.UpdateResponseHeadersPolicyCommand,
    delete: cf.DeleteResponseHeadersPolicyCommand, noSuch: cf.NoSuchResponseHeadersPolicy, comment: "Comment",
    list: async () => (await send(new cf.ListResponseHeadersPoliciesCommand({ Type: "custom" }))).ResponseHeadersPolicyList.Items?.map((i) => i.ResponseHeadersPolicy.Id) ?? [],
  },
  OriginAccessControl: {
    create: cf.CreateOriginAccessControlCommand, get: cf.GetOriginAccessControlCommand, update: cf.UpdateOriginAccessControlCommand,
    delete: cf.DeleteOriginAccessControlCommand, noSuch: cf.NoSuchOriginAccessControl, comment: "Description",
    list: async () => (await send(new cf.ListOriginAccessControlsCommand({}))).OriginAccessControlList.Items?.map((i) => i.Id) ?? [],
  },
};

for (const [kind, k] of Object.entries(kinds)) {
  const key = `${kind}Config`;
  const build = configs[kind];
  test(`${kind}: create, get, list, update, delete, If-Match and NoSuch errors`, async () => {
    const name = `js-${kind}`;
    const created = await send(new k.create({ [key]: build(name, "created") }));
    assert.equal(created.$metadata.httpStatusCode, 201);
    const id = created[kind].Id;
    assert.ok(id, "an Id");
    assert.ok(created.ETag, "an ETag");
    assert.ok(created.Location?.endsWith(`/${id}`), `Location ${created.Location}`);
    assert.equal(created[kind][key].Name, name);

    const got = await send(new k.get({ Id: id }));
    assert.equal(got.ETag, created.ETag);
    assert.equal(got[kind][key][k.comment], "created");
    assert.ok((await k.list()).includes(id), "listed");

    await rejects(send(new k.update({ Id: id, IfMatch: `${created.ETag}X`, [key]: build(name, "stale") })),
      "PreconditionFailed", 412, cf.PreconditionFailed);
    await rejects(send(new k.update({ Id: id, [key]: build(name, "no if-match") })),
      "InvalidIfMatchVersion", 400, cf.InvalidIfMatchVersion);

    const updated = await send(new k.update({ Id: id, IfMatch: created.ETag, [key]: build(name, "updated by js") }));
    assert.ok(updated.ETag && updated.ETag !== created.ETag, `a new ETag: ${updated.ETag}`);
    const again = await send(new k.get({ Id: id }));
    assert.equal(again.ETag, updated.ETag);
    assert.equal(again[kind][key][k.comment], "updated by js");

    await rejects(send(new k.delete({ Id: id, IfMatch: created.ETag })), "PreconditionFailed", 412, cf.PreconditionFailed);
    const deleted = await send(new k.delete({ Id: id, IfMatch: updated.ETag }));
    assert.equal(deleted.$metadata.httpStatusCode, 204);
    await rejects(send(new k.get({ Id: id })), k.noSuch.name, 404, k.noSuch);
    await rejects(send(new k.delete({ Id: id, IfMatch: updated.ETag })), k.noSuch.name, 404, k.noSuch);
    assert.ok(!(await k.list()).includes(id), "no longer listed");
  });
}

test("ListCachePolicies(managed) has Managed-CachingOptimized", async () => {
  const out = await send(new cf.ListCachePoliciesCommand({ Type: "managed" }));
  const byName = Object.fromEntries((out.CachePolicyList.Items ?? []).map((i) => [i.CachePolicy.CachePolicyConfig.Name, i.CachePolicy.Id]));
  assert.equal(byName["Managed-CachingOptimized"], "658327ea-f89d-4fab-a63d-7e88639e58f6");
});
