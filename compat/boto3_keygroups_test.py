#!/usr/bin/env python3
"""openfront's public keys, key groups and signed URLs driven by boto3 and
botocore's CloudFrontSigner, unmodified.

Every expectation here is CloudFront's behaviour (API 2020-05-31, as the
service model botocore ships describes it, and the developer guide's
signed URLs), not openfront's: a failure means openfront differs.

Run by compat/run.sh, which starts the server and sets:
  OPENFRONT_ENDPOINT       the API
  OPENFRONT_EDGE_ENDPOINT  the same server's viewer listener
"""

import datetime
import http.client
import urllib.parse
import uuid

from botocore.signers import CloudFrontSigner
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

import compatlib
from compatlib import env, make_client

ENDPOINT = env("OPENFRONT_ENDPOINT")
EDGE = env("OPENFRONT_EDGE_ENDPOINT")


def uniq(prefix):
    return prefix + "-" + uuid.uuid4().hex[:12]


def new_key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def pem(key):
    return key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def key_config(name, key, comment="compat"):
    return {"CallerReference": uniq("ref"), "Name": name, "EncodedKey": pem(key), "Comment": comment}


class PublicKeys(compatlib.Case):
    def test_lifecycle_and_errors(self):
        cf = make_client(ENDPOINT)
        key = new_key()
        cfg = key_config(uniq("pk"), key)
        out = cf.create_public_key(PublicKeyConfig=cfg)
        self.assertEqual(out["ResponseMetadata"]["HTTPStatusCode"], 201)
        kid, etag = out["PublicKey"]["Id"], out["ETag"]
        self.assertRegex(kid, r"^K[A-Z0-9]{13}$")
        self.assertEqual(out["PublicKey"]["PublicKeyConfig"], cfg)
        got = cf.get_public_key(Id=kid)
        self.assertEqual((got["ETag"], got["PublicKey"]["CreatedTime"]), (etag, out["PublicKey"]["CreatedTime"]))
        self.assertEqual(cf.get_public_key_config(Id=kid)["PublicKeyConfig"], cfg)
        summaries = cf.list_public_keys()["PublicKeyList"]
        self.assertIn(kid, [s["Id"] for s in summaries["Items"]])
        self.assertNotIn("IsTruncated", summaries)

        self.assertError(cf, "PublicKeyAlreadyExists", 409, cf.create_public_key, PublicKeyConfig=dict(key_config(cfg["Name"], new_key())))
        bad = dict(cfg, Name=uniq("bad"), EncodedKey="-----BEGIN PUBLIC KEY-----\nnope\n-----END PUBLIC KEY-----\n")
        self.assertError(cf, "InvalidArgument", 400, cf.create_public_key, PublicKeyConfig=bad)
        self.assertError(cf, "CannotChangeImmutablePublicKeyFields", 400, cf.update_public_key, Id=kid, IfMatch=etag,
                         PublicKeyConfig=dict(cfg, EncodedKey=pem(new_key())))
        self.assertError(cf, "PreconditionFailed", 412, cf.update_public_key, Id=kid, IfMatch=etag + "x", PublicKeyConfig=cfg)
        self.assertError(cf, "InvalidIfMatchVersion", 400, cf.update_public_key, Id=kid, IfMatch="", PublicKeyConfig=cfg)
        up = cf.update_public_key(Id=kid, IfMatch=etag, PublicKeyConfig=dict(cfg, Comment="changed"))
        self.assertNotEqual(up["ETag"], etag)
        self.assertEqual(up["PublicKey"]["PublicKeyConfig"]["Comment"], "changed")
        self.assertError(cf, "NoSuchPublicKey", 404, cf.get_public_key, Id="KNOSUCHKEY0000")

        grp = cf.create_key_group(KeyGroupConfig={"Name": uniq("kg"), "Items": [kid]})
        self.assertError(cf, "PublicKeyInUse", 409, cf.delete_public_key, Id=kid, IfMatch=up["ETag"])
        cf.delete_key_group(Id=grp["KeyGroup"]["Id"], IfMatch=grp["ETag"])
        cf.delete_public_key(Id=kid, IfMatch=up["ETag"])
        self.assertError(cf, "NoSuchPublicKey", 404, cf.delete_public_key, Id=kid, IfMatch=up["ETag"])


class KeyGroups(compatlib.Case):
    def test_lifecycle_and_errors(self):
        cf = make_client(ENDPOINT)
        kid = cf.create_public_key(PublicKeyConfig=key_config(uniq("kgk"), new_key()))["PublicKey"]["Id"]
        name = uniq("kg")
        out = cf.create_key_group(KeyGroupConfig={"Name": name, "Items": [kid], "Comment": "c"})
        self.assertEqual(out["ResponseMetadata"]["HTTPStatusCode"], 201)
        gid, etag = out["KeyGroup"]["Id"], out["ETag"]
        self.assertEqual(cf.get_key_group(Id=gid)["KeyGroup"]["KeyGroupConfig"], {"Name": name, "Items": [kid], "Comment": "c"})
        self.assertEqual(cf.get_key_group_config(Id=gid)["ETag"], etag)
        self.assertIn(gid, [s["KeyGroup"]["Id"] for s in cf.list_key_groups()["KeyGroupList"]["Items"]])
        self.assertError(cf, "KeyGroupAlreadyExists", 409, cf.create_key_group, KeyGroupConfig={"Name": name, "Items": [kid]})
        self.assertError(cf, "InvalidArgument", 400, cf.create_key_group, KeyGroupConfig={"Name": uniq("kg"), "Items": ["KNOSUCHKEY0000"]})
        many = [cf.create_public_key(PublicKeyConfig=key_config(uniq("m"), new_key()))["PublicKey"]["Id"] for _ in range(5)]
        self.assertError(cf, "TooManyPublicKeysInKeyGroup", 400, cf.create_key_group, KeyGroupConfig={"Name": uniq("kg"), "Items": many + [kid]})
        self.assertError(cf, "NoSuchResource", 404, cf.get_key_group, Id="no-such-group")
        self.assertError(cf, "PreconditionFailed", 412, cf.update_key_group, Id=gid, IfMatch="stale", KeyGroupConfig={"Name": name, "Items": [kid]})
        up = cf.update_key_group(Id=gid, IfMatch=etag, KeyGroupConfig={"Name": name, "Items": [kid, many[0]]})
        self.assertEqual(up["KeyGroup"]["KeyGroupConfig"]["Items"], [kid, many[0]])
        cf.delete_key_group(Id=gid, IfMatch=up["ETag"])
        self.assertError(cf, "NoSuchResource", 404, cf.delete_key_group, Id=gid, IfMatch=up["ETag"])


def distribution_config(ref, group):
    return {
        "CallerReference": ref, "Comment": "signed", "Enabled": True,
        "Origins": {"Quantity": 1, "Items": [{"Id": "web", "DomainName": "127.0.0.1",
                    "CustomOriginConfig": {"HTTPPort": 9, "HTTPSPort": 443, "OriginProtocolPolicy": "http-only"}}]},
        "DefaultCacheBehavior": {"TargetOriginId": "web", "ViewerProtocolPolicy": "allow-all",
                                 "CachePolicyId": "658327ea-f89d-4fab-a63d-7e88639e58f6",
                                 "TrustedKeyGroups": {"Enabled": True, "Quantity": 1, "Items": [group]}},
    }


class SignedURLs(compatlib.Case):
    def test_cloudfront_signer(self):
        cf = make_client(ENDPOINT)
        key = new_key()
        kid = cf.create_public_key(PublicKeyConfig=key_config(uniq("sig"), key))["PublicKey"]["Id"]
        grp = cf.create_key_group(KeyGroupConfig={"Name": uniq("sig"), "Items": [kid]})
        gid = grp["KeyGroup"]["Id"]
        self.assertError(cf, "TrustedKeyGroupDoesNotExist", 400, cf.create_distribution,
                         DistributionConfig=distribution_config(uniq("d"), "no-such-group"))
        d = cf.create_distribution(DistributionConfig=distribution_config(uniq("d"), gid))["Distribution"]
        self.assertEqual(d["ActiveTrustedKeyGroups"], {"Enabled": True, "Quantity": 1,
                         "Items": [{"KeyGroupId": gid, "KeyPairIds": {"Quantity": 1, "Items": [kid]}}]})
        self.assertError(cf, "ResourceInUse", 409, cf.delete_key_group, Id=gid, IfMatch=grp["ETag"])
        cf.get_waiter("distribution_deployed").wait(Id=d["Id"], WaiterConfig={"Delay": 1, "MaxAttempts": 60})
        host = d["DomainName"]

        signer = CloudFrontSigner(kid, lambda m: key.sign(m, padding.PKCS1v15(), hashes.SHA1()))
        soon = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(hours=1)
        past = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(minutes=1)
        edge = urllib.parse.urlsplit(EDGE)

        def get(url):
            u = urllib.parse.urlsplit(url)
            conn = http.client.HTTPConnection(edge.hostname, edge.port, timeout=30)
            conn.request("GET", u.path + ("?" + u.query if u.query else ""), headers={"Host": host})
            try:
                r = conn.getresponse()
                return r.status, r.read().decode()
            finally:
                conn.close()

        base = "http://" + host
        # The origin (port 9) is down: a signed request gets past the
        # signature check to the 502 of an unreachable origin.
        status, _ = get(signer.generate_presigned_url(base + "/a.txt", date_less_than=soon))
        self.assertEqual(status, 502)
        status, body = get(base + "/a.txt")
        self.assertEqual((status, body), (403, '<?xml version="1.0" encoding="UTF-8"?><Error><Code>MissingKey</Code>'
                                               '<Message>Missing Key-Pair-Id query parameter or cookie value</Message></Error>'))
        status, body = get(signer.generate_presigned_url(base + "/a.txt", date_less_than=past))
        self.assertEqual((status, body), (403, '<?xml version="1.0" encoding="UTF-8"?><Error><Code>AccessDenied</Code>'
                                               '<Message>Access denied</Message></Error>'))
        pol = signer.build_policy(base + "/dir/*", soon)
        status, _ = get(signer.generate_presigned_url(base + "/dir/x.txt", policy=pol))
        self.assertEqual(status, 502)
        signed = signer.generate_presigned_url(base + "/dir/x.txt", policy=pol)
        status, _ = get(signed.replace("/dir/x.txt", "/other.txt"))
        self.assertEqual(status, 403)


if __name__ == "__main__":
    compatlib.main(f"API {ENDPOINT}, edge {EDGE}")
