#!/usr/bin/env python3
"""Writes s3_vectors.json: requests signed for S3 by botocore's S3SigV4Auth
(the signer of AWS's Python SDK, and the one moto's server checks
signatures with), for sigv4's TestSignS3Botocore.

Each vector has the request as the edge would send it (url), the URL in
the canonical encoding SignS3 rewrites it to (canonical_url, which is what
botocore is given: S3 signs the path as sent), the headers SignS3 signs,
and the Authorization botocore computes. Run: python3 s3_vectors.py >
s3_vectors.json
"""
import json
from urllib.parse import urlsplit

from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

EMPTY = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

VECTORS = [
    # name, method, url, canonical url, headers, payload hash, region, token
    ("get object", "GET", "https://examplebucket.s3.amazonaws.com/test.txt",
     "https://examplebucket.s3.amazonaws.com/test.txt", {}, EMPTY, "us-east-1", ""),
    ("path style with origin path", "GET", "http://127.0.0.1:9000/bucket/static/img/logo.png",
     "http://127.0.0.1:9000/bucket/static/img/logo.png", {}, EMPTY, "eu-west-1", ""),
    ("reserved characters in a key", "GET", "http://127.0.0.1:9000/b/a%20b/c!d'e(f)*g+h,i;j=k:l@m$n&o",
     "http://127.0.0.1:9000/b/a%20b/c%21d%27e%28f%29%2Ag%2Bh%2Ci%3Bj%3Dk%3Al%40m%24n%26o", {}, EMPTY, "us-east-1", ""),
    ("utf-8 and an encoded slash", "GET", "http://127.0.0.1:9000/b/caf%C3%A9/x%2Fy~z",
     "http://127.0.0.1:9000/b/caf%C3%A9/x%2Fy~z", {}, EMPTY, "ap-southeast-2", ""),
    ("query sorted and encoded", "GET", "http://127.0.0.1:9000/b/k?z=1&a=b+c&versionId=3%2F4&acl",
     "http://127.0.0.1:9000/b/k?a=b%20c&acl=&versionId=3%2F4&z=1", {}, EMPTY, "us-west-2", ""),
    ("session token and range", "GET", "https://examplebucket.s3.eu-central-1.amazonaws.com/photos/2024/cat.jpg",
     "https://examplebucket.s3.eu-central-1.amazonaws.com/photos/2024/cat.jpg",
     {"Range": "bytes=0-99", "X-Amz-Cf-Id": "abcDEF123==", "X-Amz-Security-Token": "FQoGZXIvYXdzEXAMPLETOKEN//+=="},
     EMPTY, "eu-central-1", "FQoGZXIvYXdzEXAMPLETOKEN//+=="),
    ("unsigned payload put", "PUT", "http://127.0.0.1:9000/b/upload.bin",
     "http://127.0.0.1:9000/b/upload.bin", {"Content-Type": "application/octet-stream", "X-Amz-Meta-Owner": "  a   b  "},
     "UNSIGNED-PAYLOAD", "us-east-1", ""),
    ("head with host port", "HEAD", "http://localhost:4566/bucket/index.html",
     "http://localhost:4566/bucket/index.html", {}, EMPTY, "us-east-1", ""),
    ("empty path", "GET", "http://127.0.0.1:9000", "http://127.0.0.1:9000/", {}, EMPTY, "us-east-1", ""),
]

KEY, SECRET, DATE = "AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "20261208T010203Z"


def sign(method, url, headers, payload, region, token):
    h = dict(headers)
    h["X-Amz-Date"] = DATE
    h["X-Amz-Content-SHA256"] = payload
    req = AWSRequest(method=method, url=url, headers=h)
    req.context["timestamp"] = DATE
    auth = S3SigV4Auth(Credentials(KEY, SECRET, token or None), "s3", region)
    creq = auth.canonical_request(req)
    sts = auth.string_to_sign(req, creq)
    sig = auth.signature(sts, req)
    signed = auth.signed_headers(auth.headers_to_sign(req))
    scope = DATE[:8] + "/" + region + "/s3/aws4_request"
    return creq, "AWS4-HMAC-SHA256 Credential=%s/%s, SignedHeaders=%s, Signature=%s" % (KEY, scope, signed, sig)


out = []
for name, method, url, canon, headers, payload, region, token in VECTORS:
    creq, authz = sign(method, canon, headers, payload, region, token)
    out.append({"name": name, "method": method, "url": url, "canonical_url": canon,
                "host": urlsplit(canon).netloc, "headers": headers, "payload_hash": payload,
                "region": region, "session_token": token, "canonical_request": creq,
                "authorization": authz})
print(json.dumps({"access_key_id": KEY, "secret_access_key": SECRET, "date": DATE, "vectors": out}, indent=1))
