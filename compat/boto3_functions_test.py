#!/usr/bin/env python3
"""openfront's CloudFront Functions driven by boto3, unmodified: create,
describe both stages, get the code, update, publish, list, test, delete,
every error the operations define, and a distribution associating a
function.

Every expectation here is CloudFront's behaviour (API 2020-05-31, as the
service model botocore ships describes it and the API reference documents
it), not openfront's: a failure means openfront differs from CloudFront.

Run by compat/run.sh, which starts the server and sets OPENFRONT_ENDPOINT
(open mode).
"""

import json
import uuid

import compatlib
from compatlib import env, make_client

ENDPOINT = env("OPENFRONT_ENDPOINT")
CACHING_OPTIMIZED = "658327ea-f89d-4fab-a63d-7e88639e58f6"

CODE = b"""function handler(event) {
    var request = event.request;
    console.log('uri ' + request.uri);
    if (request.uri.endsWith('/')) { request.uri += 'index.html'; }
    return request;
}
"""

EVENT = {
    "version": "1.0",
    "context": {"eventType": "viewer-request"},
    "viewer": {"ip": "198.51.100.10"},
    "request": {"method": "GET", "uri": "/docs/", "querystring": {}, "headers": {"host": {"value": "example.com"}}, "cookies": {}},
}


def uniq(prefix):
    return prefix + "-" + uuid.uuid4().hex[:12]


def config(comment="", runtime="cloudfront-js-2.0"):
    return {"Comment": comment, "Runtime": runtime}


def dist_config(ref, arn, event="viewer-request"):
    return {
        "CallerReference": ref,
        "Comment": "runs a function",
        "Enabled": True,
        "Origins": {"Quantity": 1, "Items": [{
            "Id": "web", "DomainName": "origin.example.com",
            "CustomOriginConfig": {"HTTPPort": 80, "HTTPSPort": 443, "OriginProtocolPolicy": "http-only"}}]},
        "DefaultCacheBehavior": {
            "TargetOriginId": "web", "ViewerProtocolPolicy": "allow-all", "CachePolicyId": CACHING_OPTIMIZED,
            "FunctionAssociations": {"Quantity": 1, "Items": [{"EventType": event, "FunctionARN": arn}]},
        },
    }


class Functions(compatlib.Case):
    @classmethod
    def setUpClass(cls):
        cls.cf = make_client(ENDPOINT)

    def create(self, name, body=CODE, comment="made by boto3"):
        return self.cf.create_function(Name=name, FunctionConfig=config(comment), FunctionCode=body)

    def test_lifecycle(self):
        cf, name = self.cf, uniq("boto3-fn")
        out = self.create(name)
        self.assertEqual(out["ResponseMetadata"]["HTTPStatusCode"], 201)
        etag, s = out["ETag"], out["FunctionSummary"]
        arn = s["FunctionMetadata"]["FunctionARN"]
        self.assertRegex(arn, r"^arn:aws:cloudfront::\d{12}:function/" + name + "$")
        self.assertTrue(out["Location"].endswith("/2020-05-31/function/" + arn), out["Location"])
        self.assertEqual((s["Name"], s["Status"], s["FunctionMetadata"]["Stage"]), (name, "UNPUBLISHED", "DEVELOPMENT"))
        self.assertEqual(s["FunctionConfig"], {"Comment": "made by boto3", "Runtime": "cloudfront-js-2.0"})
        self.assertIn("CreatedTime", s["FunctionMetadata"])

        d = cf.describe_function(Name=name)
        self.assertEqual(d["ETag"], etag)
        self.assertEqual(d["FunctionSummary"], s)
        g = cf.get_function(Name=name, Stage="DEVELOPMENT")
        self.assertEqual((g["FunctionCode"].read(), g["ETag"], g["ContentType"]), (CODE, etag, "application/octet-stream"))
        self.assertError(cf, "NoSuchFunctionExists", 404, cf.describe_function, Name=name, Stage="LIVE")
        self.assertError(cf, "NoSuchFunctionExists", 404, cf.get_function, Name=name, Stage="LIVE")

        code2 = CODE.replace(b"index.html", b"default.html")
        self.assertError(cf, "PreconditionFailed", 412, cf.update_function, Name=name, IfMatch=etag + "X",
                         FunctionConfig=config("updated"), FunctionCode=code2)
        self.assertError(cf, "InvalidIfMatchVersion", 400, cf.update_function, Name=name, IfMatch="",
                         FunctionConfig=config("updated"), FunctionCode=code2)
        u = cf.update_function(Name=name, IfMatch=etag, FunctionConfig=config("updated"), FunctionCode=code2)
        # botocore reads UpdateFunction's ETag from the header the model
        # names ETtag.
        self.assertTrue(u["ETag"] and u["ETag"] != etag, u)
        self.assertEqual(u["FunctionSummary"]["FunctionConfig"]["Comment"], "updated")
        etag = u["ETag"]

        self.assertError(cf, "PreconditionFailed", 412, cf.publish_function, Name=name, IfMatch="EWRONG")
        p = cf.publish_function(Name=name, IfMatch=etag)["FunctionSummary"]
        self.assertEqual((p["Status"], p["FunctionMetadata"]["Stage"]), ("UNASSOCIATED", "LIVE"))
        live = cf.describe_function(Name=name, Stage="LIVE")
        self.assertTrue(live["ETag"] and live["ETag"] != etag)
        self.assertEqual(cf.get_function(Name=name, Stage="LIVE")["FunctionCode"].read(), code2)
        self.assertEqual(cf.describe_function(Name=name)["ETag"], etag, "publishing changes DEVELOPMENT's ETag")

        listed = [(f["Name"], f["FunctionMetadata"]["Stage"]) for f in cf.list_functions()["FunctionList"].get("Items", [])]
        self.assertIn((name, "DEVELOPMENT"), listed)
        self.assertIn((name, "LIVE"), listed)
        only_live = cf.list_functions(Stage="LIVE")["FunctionList"].get("Items", [])
        self.assertTrue(all(f["FunctionMetadata"]["Stage"] == "LIVE" for f in only_live))
        # Pages of one item cover the same items.
        seen, marker = [], None
        while True:
            kw = {"MaxItems": "1"} | ({"Marker": marker} if marker else {})
            page = cf.list_functions(**kw)["FunctionList"]
            seen += [(f["Name"], f["FunctionMetadata"]["Stage"]) for f in page.get("Items", [])]
            marker = page.get("NextMarker")
            if not marker:
                break
        self.assertEqual(seen, listed)

        t = cf.test_function(Name=name, IfMatch=live["ETag"], Stage="LIVE", EventObject=json.dumps(EVENT).encode())["TestResult"]
        self.assertEqual(t.get("FunctionErrorMessage", ""), "", t)
        self.assertEqual(json.loads(t["FunctionOutput"])["request"]["uri"], "/docs/default.html")
        self.assertEqual(t["FunctionExecutionLogs"], ["uri /docs/"])
        self.assertTrue(0 <= int(t["ComputeUtilization"]) <= 100, t["ComputeUtilization"])
        self.assertEqual(t["FunctionSummary"]["FunctionMetadata"]["Stage"], "LIVE")
        self.assertError(cf, "InvalidIfMatchVersion", 400, cf.test_function, Name=name, IfMatch="EWRONG",
                         EventObject=json.dumps(EVENT).encode())

        self.assertError(cf, "PreconditionFailed", 412, cf.delete_function, Name=name, IfMatch=live["ETag"])
        cf.delete_function(Name=name, IfMatch=etag)
        self.assertError(cf, "NoSuchFunctionExists", 404, cf.describe_function, Name=name)
        self.assertError(cf, "NoSuchFunctionExists", 404, cf.delete_function, Name=name, IfMatch=etag)

    def test_create_errors(self):
        cf, name = self.cf, uniq("boto3-fn-err")
        self.create(name)
        self.assertError(cf, "FunctionAlreadyExists", 409, self.create, name)
        self.assertError(cf, "FunctionSizeLimitExceeded", 413, self.create, uniq("big"), body=b"/" * 10241)
        self.assertError(cf, "InvalidArgument", 400, self.create, uniq("syntax"), body=b"function handler(e) {")
        self.assertError(cf, "InvalidArgument", 400, self.create, uniq("nohandler"), body=b"function other(e) { return e; }")
        self.assertError(cf, "InvalidArgument", 400, self.create, "not.a.name")
        self.assertError(cf, "InvalidArgument", 400, self.create, uniq("comment"), comment="c" * 129)
        self.assertError(cf, "InvalidArgument", 400, cf.create_function, Name=uniq("es5"),
                         FunctionConfig=config(runtime="cloudfront-js-1.0"), FunctionCode=b"const x = 1; function handler(e) { return e.request; }")
        kvs = "arn:aws:cloudfront::123456789012:key-value-store/0a1b2c3d-1111-2222-3333-444455556666"
        self.assertError(cf, "EntityNotFound", 404, cf.create_function, Name=uniq("kvs"),
                         FunctionConfig=config() | {"KeyValueStoreAssociations": {"Quantity": 1, "Items": [{"KeyValueStoreARN": kvs}]}},
                         FunctionCode=CODE)
        cf.delete_function(Name=name, IfMatch=cf.describe_function(Name=name)["ETag"])

    def test_distribution_association(self):
        cf, name = self.cf, uniq("boto3-fn-dist")
        out = self.create(name)
        arn, etag = out["FunctionSummary"]["FunctionMetadata"]["FunctionARN"], out["ETag"]
        self.assertError(cf, "InvalidFunctionAssociation", 400, cf.create_distribution,
                         DistributionConfig=dist_config(uniq("unpublished"), arn))
        cf.publish_function(Name=name, IfMatch=etag)
        self.assertError(cf, "InvalidFunctionAssociation", 400, cf.create_distribution,
                         DistributionConfig=dist_config(uniq("origin-request"), arn, event="origin-request"))
        self.assertError(cf, "InvalidFunctionAssociation", 400, cf.create_distribution,
                         DistributionConfig=dist_config(uniq("unknown"), arn.replace(name, uniq("nosuch"))))
        d = cf.create_distribution(DistributionConfig=dist_config(uniq("ok"), arn))
        dist_id = d["Distribution"]["Id"]
        got = cf.get_distribution_config(Id=dist_id)
        fa = got["DistributionConfig"]["DefaultCacheBehavior"]["FunctionAssociations"]
        self.assertEqual(fa, {"Quantity": 1, "Items": [{"FunctionARN": arn, "EventType": "viewer-request"}]})
        self.assertEqual(cf.describe_function(Name=name, Stage="LIVE")["FunctionSummary"]["Status"], "DEPLOYED")
        self.assertError(cf, "FunctionInUse", 409, cf.delete_function, Name=name, IfMatch=etag)

        cfg = got["DistributionConfig"]
        cfg["DefaultCacheBehavior"]["FunctionAssociations"] = {"Quantity": 0}
        cfg["Enabled"] = False
        up = cf.update_distribution(Id=dist_id, IfMatch=got["ETag"], DistributionConfig=cfg)
        cf.delete_function(Name=name, IfMatch=etag)
        cf.get_waiter("distribution_deployed").wait(Id=dist_id, WaiterConfig={"Delay": 1, "MaxAttempts": 60})
        cf.delete_distribution(Id=dist_id, IfMatch=cf.get_distribution(Id=dist_id)["ETag"] or up["ETag"])


if __name__ == "__main__":
    compatlib.main({"open": ENDPOINT})
