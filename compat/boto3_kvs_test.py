#!/usr/bin/env python3
"""openfront's KeyValueStores driven by boto3, unmodified: the control plane
(the cloudfront client) and the data plane (the cloudfront-keyvaluestore
client, which botocore signs with SigV4A through awscrt).

Every expectation here is CloudFront's behaviour, not openfront's.

The SDKs put the store's account Id before the endpoint's host
(000000000000.127.0.0.1:PORT), which no resolver here knows: the data-plane
client sends its requests through openfront itself as an HTTP proxy
(absolute-form request targets), as a wildcard DNS name would.

Run by compat/run.sh, which starts the server (credentials on) and sets:
  OPENFRONT_AUTH_ENDPOINT                   the server
  COMPAT_FULL_KEY_ID, COMPAT_FULL_SECRET    its key
"""

import re
import uuid

import botocore
from botocore.config import Config
from botocore.exceptions import ClientError

import compatlib
from compatlib import env

ENDPOINT = env("OPENFRONT_AUTH_ENDPOINT")
KEY, SECRET = env("COMPAT_FULL_KEY_ID"), env("COMPAT_FULL_SECRET")
UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def client(service, secret=SECRET):
    cfg = Config(retries={"total_max_attempts": 1}, connect_timeout=5, read_timeout=60,
                 proxies={"http": ENDPOINT})
    return botocore.session.get_session().create_client(
        service, endpoint_url=ENDPOINT, region_name="us-east-1",
        aws_access_key_id=KEY, aws_secret_access_key=secret, config=cfg)


class KeyValueStores(compatlib.Case):
    def setUp(self):
        self.cf = client("cloudfront")
        self.kv = client("cloudfront-keyvaluestore")
        self.name = "kvs-" + uuid.uuid4().hex[:12]
        r = self.cf.create_key_value_store(Name=self.name, Comment="compat")
        self.store = r["KeyValueStore"]
        self.arn = self.store["ARN"]

    def tearDown(self):
        etag = self.cf.describe_key_value_store(Name=self.name)["ETag"]
        self.cf.delete_key_value_store(Name=self.name, IfMatch=etag)

    def test_control_plane(self):
        s = self.store
        self.assertRegex(s["Id"], UUID_RE)
        self.assertEqual(s["ARN"], "arn:aws:cloudfront::000000000000:key-value-store/" + s["Id"])
        self.assertEqual((s["Name"], s["Comment"], s["Status"]), (self.name, "compat", "READY"))
        d = self.cf.describe_key_value_store(Name=self.name)
        self.assertEqual(d["KeyValueStore"]["Id"], s["Id"])
        self.assertError(self.cf, "EntityAlreadyExists", 409, self.cf.create_key_value_store, Name=self.name)
        self.assertError(self.cf, "EntityNotFound", 404, self.cf.describe_key_value_store, Name="no-such-store")
        self.assertError(self.cf, "PreconditionFailed", 412, self.cf.update_key_value_store,
                         Name=self.name, Comment="x", IfMatch="STALE")
        u = self.cf.update_key_value_store(Name=self.name, Comment="changed", IfMatch=d["ETag"])
        self.assertEqual(u["KeyValueStore"]["Comment"], "changed")
        self.assertNotEqual(u["ETag"], d["ETag"])
        names = [i["Name"] for i in self.cf.list_key_value_stores()["KeyValueStoreList"].get("Items", [])]
        self.assertIn(self.name, names)

    def test_data_plane(self):
        kv = self.kv
        d = kv.describe_key_value_store(KvsARN=self.arn)
        self.assertEqual((d["KvsARN"], d["ItemCount"], d["TotalSizeInBytes"], d["Status"]), (self.arn, 0, 0, "READY"))
        p = kv.put_key(KvsARN=self.arn, Key="greeting", Value="hello", IfMatch=d["ETag"])
        self.assertEqual((p["ItemCount"], p["TotalSizeInBytes"]), (1, len("greeting") + len("hello")))
        g = kv.get_key(KvsARN=self.arn, Key="greeting")
        self.assertEqual((g["Key"], g["Value"]), ("greeting", "hello"))
        u = kv.update_keys(KvsARN=self.arn, IfMatch=p["ETag"],
                           Puts=[{"Key": "a/b c", "Value": "1"}, {"Key": "b", "Value": "2"}, {"Key": "c", "Value": "3"}],
                           Deletes=[{"Key": "greeting"}])
        self.assertEqual(u["ItemCount"], 3)
        keys = []
        for page in kv.get_paginator("list_keys").paginate(KvsARN=self.arn, PaginationConfig={"PageSize": 2}):
            self.assertLessEqual(len(page["Items"]), 2)
            keys += [i["Key"] for i in page["Items"]]
        self.assertEqual(keys, ["a/b c", "b", "c"])
        self.assertError(kv, "ConflictException", 409, kv.put_key, KvsARN=self.arn, Key="k", Value="v", IfMatch=p["ETag"])
        self.assertError(kv, "ResourceNotFoundException", 404, kv.get_key, KvsARN=self.arn, Key="greeting")
        self.assertError(kv, "ValidationException", 400, kv.put_key, KvsARN=self.arn, Key="k", Value="v" * 1025, IfMatch=u["ETag"])
        self.assertError(kv, "ValidationException", 400, kv.put_key, KvsARN=self.arn, Key="k" * 513, Value="v", IfMatch=u["ETag"])
        dk = kv.delete_key(KvsARN=self.arn, Key="c", IfMatch=u["ETag"])
        self.assertEqual(dk["ItemCount"], 2)
        self.assertError(kv, "ResourceNotFoundException", 404, kv.delete_key, KvsARN=self.arn, Key="c", IfMatch=dk["ETag"])

    def test_sigv4a_wrong_secret(self):
        bad = client("cloudfront-keyvaluestore", secret="not-the-secret")
        with self.assertRaises(ClientError) as cm:
            bad.get_key(KvsARN=self.arn, Key="k")
        r = cm.exception.response
        self.assertEqual((r["Error"]["Code"], r["ResponseMetadata"]["HTTPStatusCode"]), ("InvalidSignatureException", 403))


if __name__ == "__main__":
    compatlib.main({"auth": ENDPOINT})
