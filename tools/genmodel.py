#!/usr/bin/env python3
"""Generate internal/cloudfront/xmlmodel/model.json from botocore's CloudFront model.

The output is a trimmed copy of the 2020-05-31 service model holding every
shape reachable from the API's documents (ROOTS: distributions, policies,
origin access controls and identities, functions), and every error code with its HTTP
status. For each shape it keeps only what the XML codec needs:

  structure: ordered members, each with its XML element name (locationName if
             the member sets one, else the member name) and target shape,
             plus the list of required member names;
  list:      the member shape and the member element name (locationName,
             else "member");
  scalars:   type (string, integer, long, boolean, timestamp, double, blob)
             and enum values.

The generated file is committed; CI never runs this script. Run it after
upgrading botocore to pick up new members:

    python3 tools/genmodel.py            # rewrite model.json
    python3 tools/genmodel.py --fixture  # also rewrite testdata/full.xml

--fixture serializes testdata/full.xml, a full DistributionConfig, with
botocore's own rest-xml serializer, so the test fixture is byte-for-byte what
a boto3 client sends.
"""

import argparse
import gzip
import json
import os
import sys

import botocore
import botocore.model
import botocore.serialize

API_VERSION = "2020-05-31"
ROOTS = [
    "DistributionConfig",
    "Distribution",
    "DistributionSummary",
    "DistributionList",
    "DistributionConfigWithTags",
    "Tags",
    "TagKeys",
    "DistributionIdList",
    "CachePolicyConfig",
    "CachePolicy",
    "CachePolicyList",
    "OriginRequestPolicyConfig",
    "OriginRequestPolicy",
    "OriginRequestPolicyList",
    "ResponseHeadersPolicyConfig",
    "ResponseHeadersPolicy",
    "ResponseHeadersPolicyList",
    "OriginAccessControlConfig",
    "OriginAccessControl",
    "OriginAccessControlList",
    "CloudFrontOriginAccessIdentityConfig",
    "CloudFrontOriginAccessIdentity",
    "CloudFrontOriginAccessIdentityList",
    "PublicKeyConfig",
    "PublicKey",
    "PublicKeyList",
    "KeyGroupConfig",
    "KeyGroup",
    "KeyGroupList",
    "CreateKeyValueStoreRequest",
    "UpdateKeyValueStoreRequest",
    "KeyValueStore",
    "KeyValueStoreList",
    # CloudFront Functions.
    "CreateFunctionRequest",
    "UpdateFunctionRequest",
    "TestFunctionRequest",
    "FunctionSummary",
    "FunctionList",
    "TestResult",
]
SCALARS = {"string", "integer", "long", "boolean", "timestamp", "double", "blob"}

HERE = os.path.dirname(os.path.abspath(__file__))
OUT_DIR = os.path.join(HERE, "..", "internal", "cloudfront", "xmlmodel")


def load_model():
    path = os.path.join(
        os.path.dirname(botocore.__file__), "data", "cloudfront", API_VERSION, "service-2.json.gz"
    )
    with gzip.open(path, "rt", encoding="utf-8") as f:
        return json.load(f)


def trim(model):
    shapes = model["shapes"]
    out = {}
    pending = list(ROOTS)
    while pending:
        name = pending.pop()
        if name in out:
            continue
        src = shapes[name]
        kind = src["type"]
        if kind == "structure":
            members = []
            for mname, m in src["members"].items():
                if m.get("location") in ("uri", "header", "headers", "querystring"):
                    continue  # a request's path, header or query member, not in its body
                if m.get("location") or m.get("xmlAttribute") or m.get("xmlNamespace"):
                    sys.exit(f"genmodel: {name}.{mname}: unsupported member trait {m}")
                members.append(
                    {"name": mname, "xml": m.get("locationName", mname), "shape": m["shape"]}
                )
                pending.append(m["shape"])
            out[name] = {"type": "structure", "members": members}
            body = {m["name"] for m in members}
            required = [r for r in src.get("required", []) if r in body]
            if required:
                out[name]["required"] = required
        elif kind == "list":
            if src.get("flattened"):
                sys.exit(f"genmodel: {name}: flattened lists are not supported")
            member = src["member"]
            out[name] = {
                "type": "list",
                "member": member["shape"],
                "memberName": member.get("locationName", "member"),
            }
            pending.append(member["shape"])
        elif kind in SCALARS:
            out[name] = {"type": kind}
            if "enum" in src:
                out[name]["enum"] = list(src["enum"])
        else:
            sys.exit(f"genmodel: {name}: unsupported shape type {kind}")
    return {
        "source": f"botocore {botocore.__version__} cloudfront {API_VERSION} service-2.json",
        "generator": "tools/genmodel.py",
        "roots": ROOTS,
        "shapes": dict(sorted(out.items())),
        "errors": errors(model),
    }


def errors(model):
    """Every error shape's code and HTTP status, from the model's traits."""
    out = {}
    for name, src in model["shapes"].items():
        if src.get("exception"):
            code = src.get("error", {}).get("code", name)
            out[code] = src.get("error", {}).get("httpStatusCode", 400)
    return dict(sorted(out.items()))


# A realistic, deliberately full DistributionConfig: three origins (S3, custom,
# VPC), an origin group, a legacy ForwardedValues default behavior and a
# policy-based cache behavior, custom error responses, logging, an ACM
# certificate, geo restrictions and the newer top-level members.
FULL_CONFIG = {
    "CallerReference": "full-fixture-2024-06-01",
    "Aliases": {"Quantity": 2, "Items": ["www.example.com", "static.example.com"]},
    "DefaultRootObject": "index.html",
    "Origins": {
        "Quantity": 3,
        "Items": [
            {
                "Id": "s3-assets",
                "DomainName": "amzn-s3-demo-bucket.s3.us-east-1.amazonaws.com",
                "OriginPath": "/public",
                "CustomHeaders": {
                    "Quantity": 2,
                    "Items": [
                        {"HeaderName": "X-Origin-Token", "HeaderValue": "s3cr3t & <tok>"},
                        {"HeaderName": "X-Env", "HeaderValue": "prod"},
                    ],
                },
                "S3OriginConfig": {"OriginAccessIdentity": "", "OriginReadTimeout": 45},
                "ConnectionAttempts": 2,
                "ConnectionTimeout": 5,
                "OriginShield": {"Enabled": True, "OriginShieldRegion": "us-east-1"},
                "OriginAccessControlId": "E2CJRMB5LKEABC",
            },
            {
                "Id": "app",
                "DomainName": "app.example.com",
                "OriginPath": "",
                "CustomHeaders": {"Quantity": 0},
                "CustomOriginConfig": {
                    "HTTPPort": 8080,
                    "HTTPSPort": 8443,
                    "OriginProtocolPolicy": "https-only",
                    "OriginSslProtocols": {"Quantity": 2, "Items": ["TLSv1.1", "TLSv1.2"]},
                    "OriginReadTimeout": 60,
                    "OriginKeepaliveTimeout": 10,
                    "IpAddressType": "dualstack",
                    "OriginMtlsConfig": {
                        "ClientCertificateArn": "arn:aws:acm:us-east-1:123456789012:certificate/11111111-2222-3333-4444-555555555555"
                    },
                },
                "ConnectionAttempts": 3,
                "ConnectionTimeout": 10,
                "ResponseCompletionTimeout": 90,
                "OriginShield": {"Enabled": False},
                "OriginAccessControlId": "",
            },
            {
                "Id": "vpc",
                "DomainName": "internal-alb-123.us-east-1.elb.amazonaws.com",
                "VpcOriginConfig": {
                    "VpcOriginId": "vo_abcdefghijklmnop",
                    "OwnerAccountId": "123456789012",
                    "OriginReadTimeout": 20,
                    "OriginKeepaliveTimeout": 4,
                },
            },
        ],
    },
    "OriginGroups": {
        "Quantity": 1,
        "Items": [
            {
                "Id": "failover",
                "FailoverCriteria": {"StatusCodes": {"Quantity": 3, "Items": [500, 502, 503]}},
                "Members": {
                    "Quantity": 2,
                    "Items": [{"OriginId": "app"}, {"OriginId": "s3-assets"}],
                },
                "SelectionCriteria": "default",
            }
        ],
    },
    "DefaultCacheBehavior": {
        "TargetOriginId": "app",
        "TrustedSigners": {"Enabled": True, "Quantity": 1, "Items": ["123456789012"]},
        "TrustedKeyGroups": {"Enabled": True, "Quantity": 1, "Items": ["kg-0123456789"]},
        "ViewerProtocolPolicy": "redirect-to-https",
        "AllowedMethods": {
            "Quantity": 7,
            "Items": ["GET", "HEAD", "POST", "PUT", "PATCH", "OPTIONS", "DELETE"],
            "CachedMethods": {"Quantity": 3, "Items": ["GET", "HEAD", "OPTIONS"]},
        },
        "SmoothStreaming": False,
        "Compress": True,
        "LambdaFunctionAssociations": {
            "Quantity": 1,
            "Items": [
                {
                    "LambdaFunctionARN": "arn:aws:lambda:us-east-1:123456789012:function:edge:3",
                    "EventType": "origin-request",
                    "IncludeBody": True,
                }
            ],
        },
        "FunctionAssociations": {
            "Quantity": 1,
            "Items": [
                {
                    "FunctionARN": "arn:aws:cloudfront::123456789012:function/rewrite",
                    "EventType": "viewer-request",
                }
            ],
        },
        "FieldLevelEncryptionId": "",
        "RealtimeLogConfigArn": "arn:aws:cloudfront::123456789012:realtime-log-config/rt",
        "GrpcConfig": {"Enabled": False},
        "ForwardedValues": {
            "QueryString": True,
            "Cookies": {
                "Forward": "whitelist",
                "WhitelistedNames": {"Quantity": 2, "Items": ["session", "lang"]},
            },
            "Headers": {"Quantity": 2, "Items": ["Host", "Accept-Language"]},
            "QueryStringCacheKeys": {"Quantity": 1, "Items": ["q"]},
        },
        "MinTTL": 0,
        "DefaultTTL": 3600,
        "MaxTTL": 86400,
    },
    "CacheBehaviors": {
        "Quantity": 1,
        "Items": [
            {
                "PathPattern": "/static/*",
                "TargetOriginId": "s3-assets",
                "TrustedSigners": {"Enabled": False, "Quantity": 0},
                "TrustedKeyGroups": {"Enabled": False, "Quantity": 0},
                "ViewerProtocolPolicy": "https-only",
                "AllowedMethods": {
                    "Quantity": 2,
                    "Items": ["HEAD", "GET"],
                    "CachedMethods": {"Quantity": 2, "Items": ["HEAD", "GET"]},
                },
                "SmoothStreaming": False,
                "Compress": True,
                "LambdaFunctionAssociations": {"Quantity": 0},
                "FunctionAssociations": {"Quantity": 0},
                "FieldLevelEncryptionId": "",
                "CachePolicyId": "658327ea-f89d-4fab-a63d-7e88639e58f6",
                "OriginRequestPolicyId": "88a5eaf4-2fd4-4709-b370-b4c650ea3fcf",
                "ResponseHeadersPolicyId": "67f7725c-6f97-4210-82d7-5512b31e9d03",
                "GrpcConfig": {"Enabled": False},
            }
        ],
    },
    "CustomErrorResponses": {
        "Quantity": 2,
        "Items": [
            {
                "ErrorCode": 404,
                "ResponsePagePath": "/errors/404.html",
                "ResponseCode": "404",
                "ErrorCachingMinTTL": 60,
            },
            {"ErrorCode": 503, "ResponsePagePath": "", "ResponseCode": "", "ErrorCachingMinTTL": 0},
        ],
    },
    "Comment": "Full fixture: \"quotes\", <angle> & ampersand",
    "Logging": {
        "Enabled": True,
        "IncludeCookies": True,
        "Bucket": "logs.s3.amazonaws.com",
        "Prefix": "cf/",
    },
    "PriceClass": "PriceClass_200",
    "Enabled": True,
    "ViewerCertificate": {
        "CloudFrontDefaultCertificate": False,
        "ACMCertificateArn": "arn:aws:acm:us-east-1:123456789012:certificate/191306a1-db01-49ca-90ef-fc414ee5dabc",
        "SSLSupportMethod": "sni-only",
        "MinimumProtocolVersion": "TLSv1.2_2021",
        "Certificate": "arn:aws:acm:us-east-1:123456789012:certificate/191306a1-db01-49ca-90ef-fc414ee5dabc",
        "CertificateSource": "acm",
    },
    "Restrictions": {
        "GeoRestriction": {"RestrictionType": "whitelist", "Quantity": 3, "Items": ["US", "CA", "GB"]}
    },
    "WebACLId": "arn:aws:wafv2:us-east-1:123456789012:global/webacl/ExampleWebACL/a1b2c3d4-5678-90ab-cdef-EXAMPLE11111",
    "HttpVersion": "http2and3",
    "IsIPV6Enabled": False,
    "ContinuousDeploymentPolicyId": "cdp-1234",
    "Staging": False,
    "AnycastIpListId": "aip_0123456789",
    "ConnectionMode": "direct",
    "ViewerMtlsConfig": {
        "Mode": "optional",
        "TrustStoreConfig": {
            "TrustStoreId": "ts_0123456789",
            "AdvertiseTrustStoreCaNames": True,
            "IgnoreCertificateExpiry": False,
        },
    },
    "ConnectionFunctionAssociation": {"Id": "cfa_0123456789"},
    "CacheTagConfig": {"HeaderName": "Cache-Tag"},
}


def write_fixture(model):
    service = botocore.model.ServiceModel(model, "cloudfront")
    op = service.operation_model("CreateDistribution")
    ser = botocore.serialize.create_serializer("rest-xml", include_validation=True)
    req = ser.serialize_to_request({"DistributionConfig": FULL_CONFIG}, op)
    path = os.path.join(OUT_DIR, "testdata", "full.xml")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(req["body"])
    print(f"genmodel: wrote {os.path.relpath(path)}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--fixture", action="store_true", help="also write testdata/full.xml")
    args = ap.parse_args()
    model = load_model()
    trimmed = trim(model)
    path = os.path.join(OUT_DIR, "model.json")
    os.makedirs(OUT_DIR, exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        json.dump(trimmed, f, indent=1, ensure_ascii=False)
        f.write("\n")
    print(f"genmodel: wrote {os.path.relpath(path)} ({len(trimmed['shapes'])} shapes)")
    if args.fixture:
        write_fixture(model)


if __name__ == "__main__":
    main()
