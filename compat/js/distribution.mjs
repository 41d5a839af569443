// openfront's distribution API driven by the AWS SDK for JavaScript v3
// (@aws-sdk/client-cloudfront), unmodified. Expectations are CloudFront's
// behaviour; a failure means openfront differs from it.
//
// Run by compat/run.sh, which starts the server and sets
// OPENFRONT_ENDPOINT (open mode, --deploy-delay 2s, --memory) and
// OPENFRONT_DISTRIBUTION_ID (the distribution of its config file); the
// set-up and helpers shared with cloudfront.mjs are in lib.mjs.
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { test } from "node:test";

import {
  CNAMEAlreadyExists,
  CreateDistributionCommand,
  CreateDistributionWithTagsCommand,
  DeleteDistributionCommand,
  DistributionAlreadyExists,
  DistributionNotDisabled,
  GetDistributionCommand,
  GetDistributionConfigCommand,
  InvalidIfMatchVersion,
  ListDistributionsCommand,
  ListTagsForResourceCommand,
  NoSuchDistribution,
  PreconditionFailed,
  UpdateDistributionCommand,
  paginateListDistributions,
  waitUntilDistributionDeployed,
} from "@aws-sdk/client-cloudfront";

import { client, DIST as FILE_DIST, ENDPOINT, rejects, UNKNOWN_DIST, uniqueRef } from "./lib.mjs";

const ref = () => uniqueRef("compat-js-dist");
const alias = (label) => `${label}-${randomUUID().slice(0, 12)}.compat.test`;

// minimalConfig is what a deploy script typically sends.
const minimalConfig = ({ callerReference = ref(), aliases = [], comment = "compat js" } = {}) => ({
  CallerReference: callerReference,
  Aliases: { Quantity: aliases.length, Items: aliases },
  DefaultRootObject: "index.html",
  Origins: {
    Quantity: 1,
    Items: [{
      Id: "web",
      DomainName: "origin.example.com",
      CustomOriginConfig: { HTTPPort: 8080, HTTPSPort: 443, OriginProtocolPolicy: "http-only" },
    }],
  },
  DefaultCacheBehavior: {
    TargetOriginId: "web",
    ViewerProtocolPolicy: "redirect-to-https",
    CachePolicyId: "658327ea-f89d-4fab-a63d-7e88639e58f6", // CachingOptimized
    Compress: true,
  },
  Comment: comment,
  Enabled: true,
});

const send = (command) => client.send(command);
const create = (config) => send(new CreateDistributionCommand({ DistributionConfig: config }));
const waitDeployed = (Id) =>
  waitUntilDistributionDeployed({ client, maxWaitTime: 30, minDelay: 1, maxDelay: 2 }, { Id });

// disableAndDelete: CloudFront's documented sequence.
async function disableAndDelete(Id) {
  const cur = await send(new GetDistributionConfigCommand({ Id }));
  let etag = cur.ETag;
  if (cur.DistributionConfig.Enabled) {
    cur.DistributionConfig.Enabled = false;
    etag = (await send(new UpdateDistributionCommand({ Id, IfMatch: etag, DistributionConfig: cur.DistributionConfig }))).ETag;
  }
  await waitDeployed(Id);
  await send(new DeleteDistributionCommand({ Id, IfMatch: etag }));
}

test("create, get config, update with IfMatch, wait until deployed, delete", async () => {
  const sent = minimalConfig({ aliases: [alias("www")] });
  const created = await create(sent);
  assert.equal(created.$metadata.httpStatusCode, 201);
  const d = created.Distribution;
  assert.match(d.Id, /^E[A-Z0-9]+$/);
  assert.equal(created.Location, `${ENDPOINT}/2020-05-31/distribution/${d.Id}`);
  assert.ok(created.ETag, "ETag");
  assert.equal(d.Status, "InProgress");
  assert.ok(d.LastModifiedTime instanceof Date, "LastModifiedTime is a Date");
  assert.ok(Math.abs(Date.now() - d.LastModifiedTime.getTime()) < 120_000, `LastModifiedTime ${d.LastModifiedTime.toISOString()}`);
  assert.equal(d.ARN, `arn:aws:cloudfront::${d.ARN.split(":")[4]}:distribution/${d.Id}`);
  const cfg = d.DistributionConfig;
  assert.equal(cfg.CallerReference, sent.CallerReference);
  assert.deepEqual(cfg.Aliases, sent.Aliases);
  assert.equal(cfg.DefaultRootObject, "index.html");
  assert.deepEqual(cfg.Origins.Items[0].CustomOriginConfig.HTTPPort, 8080);
  assert.equal(cfg.DefaultCacheBehavior.CachePolicyId, sent.DefaultCacheBehavior.CachePolicyId);
  assert.equal(cfg.DefaultCacheBehavior.Compress, true);
  assert.equal(cfg.Enabled, true);
  // A cache policy holds the TTLs: CloudFront returns none.
  assert.equal(cfg.DefaultCacheBehavior.MinTTL, undefined);

  const got = await send(new GetDistributionConfigCommand({ Id: d.Id }));
  assert.equal(got.$metadata.httpStatusCode, 200);
  assert.equal(got.ETag, created.ETag);
  assert.deepEqual(got.DistributionConfig, cfg);

  const edited = structuredClone(got.DistributionConfig);
  edited.Enabled = false;
  edited.Comment = "disabled by compat/js/distribution.mjs";
  const up = await send(new UpdateDistributionCommand({ Id: d.Id, IfMatch: got.ETag, DistributionConfig: edited }));
  assert.equal(up.$metadata.httpStatusCode, 200);
  assert.notEqual(up.ETag, got.ETag, "UpdateDistribution gives a new ETag");
  assert.equal(up.Distribution.Status, "InProgress");
  assert.deepEqual(up.Distribution.DistributionConfig, edited);
  // The ETag before the update is stale now.
  await rejects(
    send(new UpdateDistributionCommand({ Id: d.Id, IfMatch: got.ETag, DistributionConfig: edited })),
    "PreconditionFailed", 412, PreconditionFailed,
  );

  // --deploy-delay 2s: InProgress, then Deployed.
  const result = await waitDeployed(d.Id);
  assert.equal(result.state, "SUCCESS");
  const after = await send(new GetDistributionCommand({ Id: d.Id }));
  assert.equal(after.Distribution.Status, "Deployed");
  assert.equal(after.ETag, up.ETag, "deploying does not change the ETag");

  const del = await send(new DeleteDistributionCommand({ Id: d.Id, IfMatch: up.ETag }));
  assert.equal(del.$metadata.httpStatusCode, 204);
  await rejects(send(new GetDistributionCommand({ Id: d.Id })), "NoSuchDistribution", 404, NoSuchDistribution);
});

test("paginateListDistributions: pageSize 1, every distribution once", async () => {
  const fresh = [];
  for (let i = 0; i < 3; i++) fresh.push((await create(minimalConfig({ comment: `page ${i}` }))).Distribution.Id);
  const ids = [];
  let pages = 0;
  for await (const page of paginateListDistributions({ client, pageSize: 1 }, {})) {
    pages++;
    const list = page.DistributionList;
    assert.equal(list.MaxItems, 1);
    const items = list.Items ?? [];
    assert.equal(list.Quantity, items.length);
    assert.ok(items.length <= 1);
    if (list.IsTruncated) assert.equal(list.NextMarker, items.at(-1).Id);
    for (const s of items) {
      assert.ok(s.LastModifiedTime instanceof Date);
      assert.ok(s.DomainName && s.ARN && s.Origins && s.DefaultCacheBehavior, `summary of ${s.Id}`);
      ids.push(s.Id);
    }
  }
  assert.ok(pages >= 4, `pageSize 1 over 4+ distributions took ${pages} page(s)`);
  assert.equal(new Set(ids).size, ids.length, `duplicates: ${ids}`);
  for (const id of [...fresh, FILE_DIST]) assert.ok(ids.includes(id), `${id} not listed`);
  const whole = await send(new ListDistributionsCommand({ MaxItems: 1000 }));
  assert.deepEqual(whole.DistributionList.Items.map((s) => s.Id), ids);
  assert.equal(whole.DistributionList.IsTruncated, false);
  await Promise.all(fresh.map(disableAndDelete));
});

test("CreateDistributionWithTags and ListTagsForResource", async () => {
  const out = await send(new CreateDistributionWithTagsCommand({
    DistributionConfigWithTags: {
      DistributionConfig: minimalConfig(),
      Tags: { Items: [{ Key: "team", Value: "web" }, { Key: "env", Value: "ci" }] },
    },
  }));
  assert.equal(out.$metadata.httpStatusCode, 201);
  const tags = await send(new ListTagsForResourceCommand({ Resource: out.Distribution.ARN }));
  assert.deepEqual(
    Object.fromEntries(tags.Tags.Items.map((t) => [t.Key, t.Value])),
    { team: "web", env: "ci" },
  );
  await disableAndDelete(out.Distribution.Id);
});

test("errors: error.name and $metadata.httpStatusCode", async () => {
  const held = alias("taken");
  const sent = minimalConfig({ aliases: [held] });
  const created = await create(sent);
  const Id = created.Distribution.Id;
  await rejects(
    send(new DeleteDistributionCommand({ Id, IfMatch: created.ETag })),
    "DistributionNotDisabled", 409, DistributionNotDisabled,
  );
  await rejects(send(new DeleteDistributionCommand({ Id })), "InvalidIfMatchVersion", 400, InvalidIfMatchVersion);
  await rejects(create(minimalConfig({ aliases: [held] })), "CNAMEAlreadyExists", 409, CNAMEAlreadyExists);
  await rejects(create(minimalConfig({ callerReference: sent.CallerReference })), "DistributionAlreadyExists", 409, DistributionAlreadyExists);
  await rejects(send(new GetDistributionConfigCommand({ Id: UNKNOWN_DIST })), "NoSuchDistribution", 404, NoSuchDistribution);
  await disableAndDelete(Id);
});
