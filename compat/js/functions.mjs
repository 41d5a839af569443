// openfront's CloudFront Functions driven by the AWS SDK for JavaScript v3
// (@aws-sdk/client-cloudfront), unmodified: create, describe both stages,
// get the code, update, publish, list, test and delete, each error as the
// SDK's modeled error class, and a distribution associating the function.
// Expectations are CloudFront's behaviour.
//
// Run by compat/run.sh, which starts the server and sets
// OPENFRONT_ENDPOINT and OPENFRONT_DISTRIBUTION_ID (see lib.mjs).
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { test } from "node:test";

import * as cf from "@aws-sdk/client-cloudfront";

import { client, rejects } from "./lib.mjs";

const send = (command) => client.send(command);
const enc = new TextEncoder();
const dec = new TextDecoder();

const code = `function handler(event) {
  var request = event.request;
  console.log("js " + request.uri);
  request.headers["x-js"] = { value: "1" };
  return request;
}`;
const config = (comment) => ({ Comment: comment, Runtime: "cloudfront-js-2.0" });

test("CloudFront Functions: every operation and error", async () => {
  const name = `js-fn-${randomUUID().slice(0, 8)}`;
  const created = await send(new cf.CreateFunctionCommand({ Name: name, FunctionConfig: config("made by js"), FunctionCode: enc.encode(code) }));
  const s = created.FunctionSummary;
  assert.equal(created.$metadata.httpStatusCode, 201);
  assert.ok(created.ETag);
  assert.equal(s.Status, "UNPUBLISHED");
  assert.equal(s.FunctionMetadata.Stage, "DEVELOPMENT");
  assert.match(s.FunctionMetadata.FunctionARN, new RegExp(`^arn:aws:cloudfront::\\d{12}:function/${name}$`));
  assert.ok(s.FunctionMetadata.CreatedTime instanceof Date);
  const arn = s.FunctionMetadata.FunctionARN;

  await rejects(send(new cf.CreateFunctionCommand({ Name: name, FunctionConfig: config(""), FunctionCode: enc.encode(code) })),
    "FunctionAlreadyExists", 409, cf.FunctionAlreadyExists);
  await rejects(send(new cf.CreateFunctionCommand({ Name: `${name}-big`, FunctionConfig: config(""), FunctionCode: enc.encode("/".repeat(10241)) })),
    "FunctionSizeLimitExceeded", 413, cf.FunctionSizeLimitExceeded);
  await rejects(send(new cf.CreateFunctionCommand({ Name: `${name}-bad`, FunctionConfig: config(""), FunctionCode: enc.encode("function handler(e) {") })),
    "InvalidArgument", 400, cf.InvalidArgument);

  const got = await send(new cf.GetFunctionCommand({ Name: name }));
  assert.equal(dec.decode(got.FunctionCode), code);
  assert.equal(got.ETag, created.ETag);
  assert.equal(got.ContentType, "application/octet-stream");
  await rejects(send(new cf.DescribeFunctionCommand({ Name: name, Stage: "LIVE" })), "NoSuchFunctionExists", 404, cf.NoSuchFunctionExists);

  await rejects(send(new cf.UpdateFunctionCommand({ Name: name, IfMatch: `${created.ETag}X`, FunctionConfig: config("x"), FunctionCode: enc.encode(code) })),
    "PreconditionFailed", 412, cf.PreconditionFailed);
  const updated = await send(new cf.UpdateFunctionCommand({ Name: name, IfMatch: created.ETag, FunctionConfig: config("updated"), FunctionCode: enc.encode(code + "\n") }));
  // The SDK reads UpdateFunction's ETag from the ETtag header.
  assert.ok(updated.ETag && updated.ETag !== created.ETag, `update ETag ${updated.ETag}`);

  await rejects(send(new cf.PublishFunctionCommand({ Name: name, IfMatch: "EWRONG" })), "PreconditionFailed", 412, cf.PreconditionFailed);
  const published = await send(new cf.PublishFunctionCommand({ Name: name, IfMatch: updated.ETag }));
  assert.equal(published.FunctionSummary.Status, "UNASSOCIATED");
  assert.equal(published.FunctionSummary.FunctionMetadata.Stage, "LIVE");
  const live = await send(new cf.DescribeFunctionCommand({ Name: name, Stage: "LIVE" }));
  assert.equal(live.FunctionSummary.FunctionConfig.Comment, "updated");

  const list = await send(new cf.ListFunctionsCommand({ Stage: "LIVE" }));
  assert.ok(list.FunctionList.Items.some((f) => f.Name === name && f.FunctionMetadata.Stage === "LIVE"));

  const event = { version: "1.0", context: { eventType: "viewer-request" }, viewer: { ip: "198.51.100.2" },
    request: { method: "GET", uri: "/js", querystring: {}, headers: {}, cookies: {} } };
  await rejects(send(new cf.TestFunctionCommand({ Name: name, IfMatch: "EWRONG", EventObject: enc.encode(JSON.stringify(event)) })),
    "InvalidIfMatchVersion", 400, cf.InvalidIfMatchVersion);
  const tested = await send(new cf.TestFunctionCommand({ Name: name, IfMatch: live.ETag, Stage: "LIVE", EventObject: enc.encode(JSON.stringify(event)) }));
  const r = tested.TestResult;
  assert.equal(r.FunctionErrorMessage ?? "", "");
  assert.deepEqual(JSON.parse(r.FunctionOutput).request.headers["x-js"], { value: "1" });
  assert.deepEqual(r.FunctionExecutionLogs, ["js /js"]);
  assert.ok(Number(r.ComputeUtilization) >= 0 && Number(r.ComputeUtilization) <= 100);

  // A distribution associating it: the function is DEPLOYED and in use.
  const dist = await send(new cf.CreateDistributionCommand({ DistributionConfig: {
    CallerReference: `js-fn-${randomUUID()}`, Comment: "runs a function", Enabled: false,
    Origins: { Quantity: 1, Items: [{ Id: "web", DomainName: "origin.example.com",
      CustomOriginConfig: { HTTPPort: 80, HTTPSPort: 443, OriginProtocolPolicy: "http-only" } }] },
    DefaultCacheBehavior: { TargetOriginId: "web", ViewerProtocolPolicy: "allow-all", CachePolicyId: "658327ea-f89d-4fab-a63d-7e88639e58f6",
      FunctionAssociations: { Quantity: 1, Items: [{ EventType: "viewer-request", FunctionARN: arn }] } },
  } }));
  const deployed = await send(new cf.DescribeFunctionCommand({ Name: name, Stage: "LIVE" }));
  assert.equal(deployed.FunctionSummary.Status, "DEPLOYED");
  await rejects(send(new cf.DeleteFunctionCommand({ Name: name, IfMatch: updated.ETag })), "FunctionInUse", 409, cf.FunctionInUse);
  const gotDist = await send(new cf.GetDistributionCommand({ Id: dist.Distribution.Id }));
  await send(new cf.DeleteDistributionCommand({ Id: dist.Distribution.Id, IfMatch: gotDist.ETag }));

  await rejects(send(new cf.DeleteFunctionCommand({ Name: name, IfMatch: live.ETag })), "PreconditionFailed", 412, cf.PreconditionFailed);
  await send(new cf.DeleteFunctionCommand({ Name: name, IfMatch: updated.ETag }));
  await rejects(send(new cf.GetFunctionCommand({ Name: name })), "NoSuchFunctionExists", 404, cf.NoSuchFunctionExists);
});
