// openfront compatibility scenarios driven by the AWS SDK for JavaScript v3
// (@aws-sdk/client-cloudfront), unmodified. Expectations are CloudFront's
// behaviour; a failure means openfront differs from it.
//
// Run by compat/run.sh, which starts the server and sets
// OPENFRONT_ENDPOINT (open mode, no invalidation delay) and
// OPENFRONT_DISTRIBUTION_ID; the set-up and helpers shared with
// distribution.mjs are in lib.mjs.
import assert from "node:assert/strict";
import { test } from "node:test";

import {
  BatchTooLarge,
  CreateInvalidationCommand,
  GetInvalidationCommand,
  InconsistentQuantities,
  InvalidArgument,
  ListInvalidationsCommand,
  NoSuchDistribution,
  NoSuchInvalidation,
  paginateListInvalidations,
  waitUntilInvalidationCompleted,
} from "@aws-sdk/client-cloudfront";

import { client, DIST, ENDPOINT, rejects, UNKNOWN_DIST, uniqueRef } from "./lib.mjs";

const ref = () => uniqueRef("compat-js");
const batch = (paths, callerReference = ref(), quantity = paths.length) => ({
  Paths: { Quantity: quantity, Items: paths },
  CallerReference: callerReference,
});
const create = (paths, callerReference, dist = DIST) =>
  client.send(new CreateInvalidationCommand({ DistributionId: dist, InvalidationBatch: batch(paths, callerReference) }));

function assertInvalidation(inv, paths, callerReference) {
  assert.match(inv.Id, /^[A-Z0-9]+$/);
  assert.ok(["InProgress", "Completed"].includes(inv.Status), `Status ${inv.Status}`);
  assert.ok(inv.CreateTime instanceof Date, "CreateTime is a Date");
  assert.ok(Math.abs(Date.now() - inv.CreateTime.getTime()) < 120_000, `CreateTime ${inv.CreateTime.toISOString()} is not now`);
  assert.deepEqual(inv.InvalidationBatch, { Paths: { Quantity: paths.length, Items: paths }, CallerReference: callerReference });
}

test("create: 201, Location, InProgress, CreateTime a Date", async () => {
  const r = ref();
  const out = await create(["/js/a", "/js/b/*"], r);
  assert.equal(out.$metadata.httpStatusCode, 201);
  assertInvalidation(out.Invalidation, ["/js/a", "/js/b/*"], r);
  assert.equal(out.Invalidation.Status, "InProgress");
  assert.ok(out.Location.startsWith(ENDPOINT + "/"), `Location ${out.Location}`);
  assert.equal(out.Location, `${ENDPOINT}/2020-05-31/distribution/${DIST}/invalidation/${out.Invalidation.Id}`);
});

test("replay: same CallerReference and paths return the same invalidation", async () => {
  const r = ref();
  const first = await create(["/js/replay"], r);
  const again = await create(["/js/replay"], r);
  assert.equal(again.Invalidation.Id, first.Invalidation.Id);
  assert.equal(again.Invalidation.CreateTime.getTime(), first.Invalidation.CreateTime.getTime());
  assertInvalidation(again.Invalidation, ["/js/replay"], r);
});

test("get: returns what create returned", async () => {
  const r = ref();
  const paths = ["/js/get/x.html", "/js/get?a=1&b=2"];
  const created = (await create(paths, r)).Invalidation;
  const out = await client.send(new GetInvalidationCommand({ DistributionId: DIST, Id: created.Id }));
  assert.equal(out.$metadata.httpStatusCode, 200);
  assertInvalidation(out.Invalidation, paths, r);
  assert.equal(out.Invalidation.Id, created.Id);
  assert.equal(out.Invalidation.CreateTime.getTime(), created.CreateTime.getTime());
});

test("list: paginateListInvalidations, pageSize 2, newest first, no duplicates", async () => {
  const fresh = [];
  for (let i = 0; i < 5; i++) fresh.push((await create([`/js/page/${i}`])).Invalidation.Id);
  const ids = [];
  const times = [];
  let pages = 0;
  for await (const page of paginateListInvalidations({ client, pageSize: 2 }, { DistributionId: DIST })) {
    pages++;
    const list = page.InvalidationList;
    assert.equal(list.MaxItems, 2);
    const items = list.Items ?? [];
    assert.equal(list.Quantity, items.length);
    assert.ok(items.length <= 2);
    if (list.IsTruncated) assert.equal(list.NextMarker, items.at(-1).Id);
    for (const s of items) {
      assert.deepEqual(Object.keys(s).sort(), ["CreateTime", "Id", "Status"]);
      assert.ok(s.CreateTime instanceof Date);
      ids.push(s.Id);
      times.push(s.CreateTime.getTime());
    }
  }
  assert.ok(pages >= 3, `pageSize 2 over 5+ invalidations took ${pages} page(s)`);
  assert.equal(new Set(ids).size, ids.length, `duplicates: ${ids}`);
  assert.deepEqual(ids.slice(0, 5), fresh.toReversed(), "newest first");
  assert.deepEqual(times, times.toSorted((a, b) => b - a), "CreateTime must not increase down the list");
  const whole = await client.send(new ListInvalidationsCommand({ DistributionId: DIST, MaxItems: 1000 }));
  assert.deepEqual(whole.InvalidationList.Items.map((s) => s.Id), ids);
  assert.equal(whole.InvalidationList.IsTruncated, false);
});

test("waitUntilInvalidationCompleted", async () => {
  const inv = (await create(["/js/wait"])).Invalidation;
  const result = await waitUntilInvalidationCompleted(
    { client, maxWaitTime: 30, minDelay: 1, maxDelay: 2 },
    { DistributionId: DIST, Id: inv.Id },
  );
  assert.equal(result.state, "SUCCESS");
  const out = await client.send(new GetInvalidationCommand({ DistributionId: DIST, Id: inv.Id }));
  assert.equal(out.Invalidation.Status, "Completed");
});

test("errors: error.name and $metadata.httpStatusCode", async () => {
  await rejects(
    client.send(new GetInvalidationCommand({ DistributionId: DIST, Id: "INOSUCHINVALID" })),
    "NoSuchInvalidation", 404, NoSuchInvalidation,
  );
  await rejects(create(["/a"], ref(), UNKNOWN_DIST), "NoSuchDistribution", 404, NoSuchDistribution);
  await rejects(create(["no-leading-slash"]), "InvalidArgument", 400, InvalidArgument);
  await rejects(
    client.send(new CreateInvalidationCommand({ DistributionId: DIST, InvalidationBatch: batch(["/q1", "/q2"], ref(), 3) })),
    "InconsistentQuantities", 400, InconsistentQuantities,
  );
  await rejects(create(Array.from({ length: 3001 }, (_, i) => `/big/${i}`)), "BatchTooLarge", 413, BatchTooLarge);
  const r = ref();
  await create(["/js/conflict/a"], r);
  // Not in the service model: the SDK names the error after its code.
  await rejects(create(["/js/conflict/b"], r), "InvalidationBatchAlreadyExists", 409);
  await rejects(
    client.send(new ListInvalidationsCommand({ DistributionId: DIST, MaxItems: "abc" })),
    "InvalidArgument", 400, InvalidArgument,
  );
});
