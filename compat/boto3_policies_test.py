#!/usr/bin/env python3
"""openfront's policies, origin access controls and origin access identities
driven by boto3, unmodified.

Every expectation here is CloudFront's behaviour (API 2020-05-31, as the
service model botocore ships describes it and the API reference documents
it), not openfront's: a failure means openfront differs from CloudFront.

Run by compat/run.sh, which starts the servers and sets:
  OPENFRONT_ENDPOINT        open mode
  OPENFRONT_QUOTA_ENDPOINT  open mode, a server of its own for the quota
  OPENFRONT_AUTH_ENDPOINT   credentials on (compat/openfront-auth.yaml)
  COMPAT_FULL_KEY_ID, COMPAT_FULL_SECRET         a key for everything
  COMPAT_LIMITED_KEY_ID, COMPAT_LIMITED_SECRET   a key limited to one
                                                 distribution
"""

import copy
import re
import uuid

import compatlib
from compatlib import env, make_client

ENDPOINT = env("OPENFRONT_ENDPOINT")
QUOTA_ENDPOINT = env("OPENFRONT_QUOTA_ENDPOINT")
AUTH_ENDPOINT = env("OPENFRONT_AUTH_ENDPOINT")
FULL_KEY, FULL_SECRET = env("COMPAT_FULL_KEY_ID"), env("COMPAT_FULL_SECRET")
LIMITED_KEY, LIMITED_SECRET = env("COMPAT_LIMITED_KEY_ID"), env("COMPAT_LIMITED_SECRET")

CACHING_OPTIMIZED = "658327ea-f89d-4fab-a63d-7e88639e58f6"
CACHING_DISABLED = "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"
ALL_VIEWER = "216adef6-5c7f-47e4-b989-5492eafa07d3"
SECURITY_HEADERS = "67f7725c-6f97-4210-82d7-5512b31e9d03"
UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
ID_RE = re.compile(r"^E[A-Z0-9]{12,14}$")


def uniq(prefix):
    return prefix + "-" + uuid.uuid4().hex[:12]


def names(items):
    return {"Quantity": len(items), "Items": list(items)} if items else {"Quantity": 0}


def cache_policy(name):
    """A CachePolicyConfig with every field set."""
    return {
        "Comment": "every field set",
        "Name": name,
        "DefaultTTL": 3600,
        "MaxTTL": 86400,
        "MinTTL": 60,
        "ParametersInCacheKeyAndForwardedToOrigin": {
            "EnableAcceptEncodingGzip": True,
            "EnableAcceptEncodingBrotli": True,
            "HeadersConfig": {"HeaderBehavior": "whitelist", "Headers": names(["Origin", "X-Lang"])},
            "CookiesConfig": {"CookieBehavior": "allExcept", "Cookies": names(["session"])},
            "QueryStringsConfig": {"QueryStringBehavior": "whitelist", "QueryStrings": names(["page", "q"])},
        },
    }


def origin_request_policy(name):
    return {
        "Comment": "every field set",
        "Name": name,
        "HeadersConfig": {"HeaderBehavior": "allViewerAndWhitelistCloudFront", "Headers": names(["CloudFront-Viewer-Country"])},
        "CookiesConfig": {"CookieBehavior": "whitelist", "Cookies": names(["a", "b"])},
        "QueryStringsConfig": {"QueryStringBehavior": "allExcept", "QueryStrings": names(["utm_source"])},
    }


def response_headers_policy(name):
    return {
        "Comment": "every field set",
        "Name": name,
        "CorsConfig": {
            "AccessControlAllowOrigins": names(["https://example.com"]),
            "AccessControlAllowHeaders": names(["X-Custom"]),
            "AccessControlAllowMethods": names(["GET", "POST"]),
            "AccessControlAllowCredentials": True,
            "AccessControlExposeHeaders": names(["X-Expose"]),
            "AccessControlMaxAgeSec": 600,
            "OriginOverride": False,
        },
        "SecurityHeadersConfig": {
            "XSSProtection": {"Override": True, "Protection": True, "ReportUri": "https://example.com/report"},
            "FrameOptions": {"Override": True, "FrameOption": "SAMEORIGIN"},
            "ReferrerPolicy": {"Override": True, "ReferrerPolicy": "strict-origin-when-cross-origin"},
            "ContentSecurityPolicy": {"Override": True, "ContentSecurityPolicy": "default-src 'self'"},
            "ContentTypeOptions": {"Override": True},
            "StrictTransportSecurity": {"Override": False, "IncludeSubdomains": True, "Preload": True, "AccessControlMaxAgeSec": 63072000},
        },
        "ServerTimingHeadersConfig": {"Enabled": True, "SamplingRate": 12.5},
        "CustomHeadersConfig": {"Quantity": 1, "Items": [{"Header": "X-Hello", "Value": "world", "Override": True}]},
        "RemoveHeadersConfig": {"Quantity": 1, "Items": [{"Header": "Server"}]},
    }


def origin_access_control(name):
    return {
        "Name": name,
        "Description": "every field set",
        "SigningProtocol": "sigv4",
        "SigningBehavior": "no-override",
        "OriginAccessControlOriginType": "s3",
    }


def origin_access_identity(ref):
    return {"CallerReference": ref, "Comment": "every field set"}


class Kind:
    """What the generic tests need to know of a kind: boto3's method names
    and parameter names."""

    def __init__(self, name, plural, config, make, list_key, update_id="Id", typed=True, id_re=UUID_RE):
        self.name, self.plural, self.config, self.make = name, plural, config, make
        self.list_key, self.typed, self.id_re = list_key, typed, id_re

    def snake(self, s):
        return re.sub(r"(?<!^)(?=[A-Z])", "_", s).lower()

    def call(self, cf, op, **kw):
        return getattr(cf, self.snake(op))(**kw)

    def create(self, cf, cfg):
        return self.call(cf, "Create" + self.name, **{self.config: cfg})

    def get(self, cf, id):
        return self.call(cf, "Get" + self.name, Id=id)

    def get_config(self, cf, id):
        return self.call(cf, "Get" + self.name + "Config", Id=id)

    def update(self, cf, id, cfg, etag):
        kw = {self.config: cfg, "Id": id}
        if etag is not None:
            kw["IfMatch"] = etag
        return self.call(cf, "Update" + self.name, **kw)

    def delete(self, cf, id, etag):
        kw = {"Id": id}
        if etag is not None:
            kw["IfMatch"] = etag
        return self.call(cf, "Delete" + self.name, **kw)

    def list(self, cf, **kw):
        return self.call(cf, "List" + self.plural, **kw)[self.list_key]


KINDS = [
    Kind("CachePolicy", "CachePolicies", "CachePolicyConfig", cache_policy, "CachePolicyList"),
    Kind("OriginRequestPolicy", "OriginRequestPolicies", "OriginRequestPolicyConfig", origin_request_policy, "OriginRequestPolicyList"),
    Kind("ResponseHeadersPolicy", "ResponseHeadersPolicies", "ResponseHeadersPolicyConfig", response_headers_policy, "ResponseHeadersPolicyList"),
    Kind("OriginAccessControl", "OriginAccessControls", "OriginAccessControlConfig", origin_access_control, "OriginAccessControlList", typed=False, id_re=ID_RE),
    Kind("CloudFrontOriginAccessIdentity", "CloudFrontOriginAccessIdentities", "CloudFrontOriginAccessIdentityConfig", origin_access_identity,
         "CloudFrontOriginAccessIdentityList", typed=False, id_re=ID_RE),
]


class EveryKind(compatlib.Case):
    """Every operation of every kind, with a configuration of every field."""

    def setUp(self):
        self.cf = make_client(ENDPOINT)

    def test_crud_round_trip(self):
        cf = self.cf
        for k in KINDS:
            with self.subTest(kind=k.name):
                cfg = k.make(uniq("full"))
                out = k.create(cf, cfg)
                self.assertEqual(out["ResponseMetadata"]["HTTPStatusCode"], 201)
                doc = out[k.name]
                id, etag = doc["Id"], out["ETag"]
                self.assertRegex(id, k.id_re)
                self.assertTrue(out["Location"].endswith("/" + id), out["Location"])
                self.assertEqual(doc[k.config], cfg, "Create sends back the configuration as sent")
                got = k.get(cf, id)
                self.assertEqual(got[k.name][k.config], cfg)
                self.assertEqual(got["ETag"], etag)
                gc = k.get_config(cf, id)
                self.assertEqual(gc[k.config], cfg, "GetConfig sends back the configuration as sent")
                self.assertEqual(gc["ETag"], etag)
                if k.typed:
                    self.assertIn("LastModifiedTime", got[k.name])
                if k.name == "CloudFrontOriginAccessIdentity":
                    self.assertRegex(got[k.name]["S3CanonicalUserId"], r"^[0-9a-f]{96}$")
                # Update: a new ETag, the new configuration; the old ETag is stale.
                cfg2 = copy.deepcopy(cfg)
                cfg2["Comment" if "Comment" in cfg2 else "Description"] = "changed"
                up = k.update(cf, id, cfg2, etag)
                self.assertNotEqual(up["ETag"], etag)
                self.assertEqual(up[k.name][k.config], cfg2)
                self.assertEqual(k.get_config(cf, id)[k.config], cfg2)
                self.assertError(cf, "PreconditionFailed", 412, k.update, cf, id, cfg2, etag)
                self.assertError(cf, "PreconditionFailed", 412, k.delete, cf, id, etag)
                self.assertError(cf, "InvalidIfMatchVersion", 400, k.update, cf, id, cfg2, None)
                self.assertError(cf, "InvalidIfMatchVersion", 400, k.delete, cf, id, None)
                listed = k.list(cf)
                ids = [self.item_id(k, i) for i in listed.get("Items", [])]
                self.assertIn(id, ids)
                self.assertEqual(listed["Quantity"], len(ids))
                # Delete, then it is gone.
                out = k.delete(cf, id, up["ETag"])
                self.assertEqual(out["ResponseMetadata"]["HTTPStatusCode"], 204)
                self.assertError(cf, "NoSuch" + k.name, 404, k.get, cf, id)
                self.assertError(cf, "NoSuch" + k.name, 404, k.get_config, cf, id)
                self.assertError(cf, "NoSuch" + k.name, 404, k.delete, cf, id, up["ETag"])
                self.assertError(cf, "NoSuch" + k.name, 404, k.update, cf, id, cfg2, up["ETag"])

    def item_id(self, k, item):
        if k.typed:
            return item[k.name]["Id"]
        return item["Id"]

    def test_already_exists(self):
        cf = self.cf
        for k in KINDS:
            with self.subTest(kind=k.name):
                cfg = k.make(uniq("dup"))
                k.create(cf, cfg)
                other = copy.deepcopy(cfg)
                other["Comment" if "Comment" in other else "Description"] = "another"
                self.assertError(cf, k.name + "AlreadyExists", 409, k.create, cf, other)
                if k.typed or k.name == "OriginAccessControl":
                    # Renaming another one to a taken name.
                    second = k.create(cf, k.make(uniq("second")))
                    self.assertError(cf, k.name + "AlreadyExists", 409, k.update, cf, second[k.name]["Id"], other, second["ETag"])

    def test_list_pages(self):
        cf = self.cf
        for k in KINDS:
            with self.subTest(kind=k.name):
                for _ in range(3):
                    k.create(cf, k.make(uniq("page")))
                seen, marker = [], ""
                for _ in range(100):
                    page = k.list(cf, MaxItems="2", Marker=marker)
                    self.assertEqual(page["MaxItems"], 2)
                    self.assertLessEqual(page["Quantity"], 2)
                    seen += [self.item_id(k, i) for i in page.get("Items", [])]
                    if not k.typed:
                        self.assertEqual(page["IsTruncated"], "NextMarker" in page)
                    if "NextMarker" not in page:
                        break
                    marker = page["NextMarker"]
                self.assertEqual(len(seen), len(set(seen)), "no item twice")
                everything = [self.item_id(k, i) for i in k.list(cf, MaxItems="1000").get("Items", [])]
                self.assertEqual(sorted(seen), sorted(everything))
                self.assertError(cf, "InvalidArgument", 400, k.list, cf, MaxItems="0")

    def test_malformed_and_inconsistent(self):
        cf = self.cf
        cfg = cache_policy(uniq("q"))
        cfg["ParametersInCacheKeyAndForwardedToOrigin"]["HeadersConfig"]["Headers"]["Quantity"] = 3
        self.assertError(cf, "InconsistentQuantities", 400, cf.create_cache_policy, CachePolicyConfig=cfg)


class Policies(compatlib.Case):
    def setUp(self):
        self.cf = make_client(ENDPOINT)

    def test_managed_policies(self):
        cf = self.cf
        managed = cf.list_cache_policies(Type="managed")["CachePolicyList"]
        ids = {i["CachePolicy"]["Id"] for i in managed["Items"]}
        self.assertTrue({CACHING_OPTIMIZED, CACHING_DISABLED} <= ids, ids)
        self.assertTrue(all(i["Type"] == "managed" for i in managed["Items"]))
        custom = cf.list_cache_policies(Type="custom")["CachePolicyList"]
        self.assertTrue(all(i["Type"] == "custom" for i in custom.get("Items", [])))
        self.assertFalse(ids & {i["CachePolicy"]["Id"] for i in custom.get("Items", [])})
        opt = cf.get_cache_policy(Id=CACHING_OPTIMIZED)
        c = opt["CachePolicy"]["CachePolicyConfig"]
        self.assertEqual((c["Name"], c["MinTTL"], c["DefaultTTL"], c["MaxTTL"]), ("Managed-CachingOptimized", 1, 86400, 31536000))
        self.assertError(cf, "IllegalUpdate", 400, cf.update_cache_policy, Id=CACHING_OPTIMIZED, IfMatch=opt["ETag"],
                         CachePolicyConfig=cache_policy(uniq("x")))
        self.assertError(cf, "IllegalDelete", 400, cf.delete_cache_policy, Id=CACHING_OPTIMIZED, IfMatch=opt["ETag"])
        # The whole catalogue, of every kind.
        self.assertGreaterEqual(len(ids), 7, ids)
        rhp = cf.list_response_headers_policies(Type="managed")["ResponseHeadersPolicyList"]
        self.assertIn(SECURITY_HEADERS, {i["ResponseHeadersPolicy"]["Id"] for i in rhp["Items"]})
        av = cf.get_origin_request_policy(Id=ALL_VIEWER)
        self.assertEqual(av["OriginRequestPolicy"]["OriginRequestPolicyConfig"]["HeadersConfig"]["HeaderBehavior"], "allViewer")
        self.assertError(cf, "IllegalDelete", 400, cf.delete_origin_request_policy, Id=ALL_VIEWER, IfMatch=av["ETag"])
        self.assertError(cf, "InvalidArgument", 400, cf.list_cache_policies, Type="other")

    def test_ttl_rules(self):
        cf = self.cf
        cfg = cache_policy(uniq("ttl"))
        cfg.update(MinTTL=100, DefaultTTL=10)
        self.assertError(cf, "InvalidArgument", 400, cf.create_cache_policy, CachePolicyConfig=cfg)
        cfg.update(MinTTL=0, DefaultTTL=100, MaxTTL=10)
        self.assertError(cf, "InvalidArgument", 400, cf.create_cache_policy, CachePolicyConfig=cfg)
        # Left out, DefaultTTL and MaxTTL come back as CloudFront fills them.
        del cfg["DefaultTTL"], cfg["MaxTTL"]
        cfg["MinTTL"] = 5
        out = cf.create_cache_policy(CachePolicyConfig=cfg)["CachePolicy"]["CachePolicyConfig"]
        self.assertEqual((out["MinTTL"], out["DefaultTTL"], out["MaxTTL"]), (5, 86400, 31536000))

    def test_too_many_names(self):
        cf = self.cf
        eleven = [f"X-H{i}" for i in range(11)]
        for field, conf, behavior, code in [
            ("HeadersConfig", "Headers", "HeaderBehavior", "TooManyHeadersInCachePolicy"),
            ("CookiesConfig", "Cookies", "CookieBehavior", "TooManyCookiesInCachePolicy"),
            ("QueryStringsConfig", "QueryStrings", "QueryStringBehavior", "TooManyQueryStringsInCachePolicy"),
        ]:
            cfg = cache_policy(uniq("many"))
            cfg["ParametersInCacheKeyAndForwardedToOrigin"][field] = {behavior: "whitelist", conf: names(eleven)}
            self.assertError(cf, code, 400, cf.create_cache_policy, CachePolicyConfig=cfg)
            orp = origin_request_policy(uniq("many"))
            orp[field] = {behavior: "whitelist", conf: names(eleven)}
            self.assertError(cf, code.replace("CachePolicy", "OriginRequestPolicy"), 400, cf.create_origin_request_policy, OriginRequestPolicyConfig=orp)

    def test_response_headers_rules(self):
        cf = self.cf
        cfg = response_headers_policy(uniq("rhp"))
        cfg["CustomHeadersConfig"] = {"Quantity": 11, "Items": [{"Header": f"X-C{i}", "Value": "v", "Override": False} for i in range(11)]}
        self.assertError(cf, "TooManyCustomHeadersInResponseHeadersPolicy", 400, cf.create_response_headers_policy, ResponseHeadersPolicyConfig=cfg)
        cfg = response_headers_policy(uniq("rhp"))
        cfg["RemoveHeadersConfig"] = {"Quantity": 11, "Items": [{"Header": f"X-R{i}"} for i in range(11)]}
        self.assertError(cf, "TooManyRemoveHeadersInResponseHeadersPolicy", 400, cf.create_response_headers_policy, ResponseHeadersPolicyConfig=cfg)
        cfg = response_headers_policy(uniq("rhp"))
        cfg["SecurityHeadersConfig"]["ContentSecurityPolicy"]["ContentSecurityPolicy"] = "a" * 1784
        self.assertError(cf, "TooLongCSPInResponseHeadersPolicy", 400, cf.create_response_headers_policy, ResponseHeadersPolicyConfig=cfg)
        cfg = response_headers_policy(uniq("rhp"))
        cfg["CorsConfig"]["AccessControlAllowOrigins"] = names(["*"])
        self.assertError(cf, "InvalidArgument", 400, cf.create_response_headers_policy, ResponseHeadersPolicyConfig=cfg)
        cfg = response_headers_policy(uniq("rhp"))
        cfg["RemoveHeadersConfig"] = {"Quantity": 1, "Items": [{"Header": "Content-Length"}]}
        self.assertError(cf, "InvalidArgument", 400, cf.create_response_headers_policy, ResponseHeadersPolicyConfig=cfg)


class OriginAccess(compatlib.Case):
    def setUp(self):
        self.cf = make_client(ENDPOINT)

    def test_identity_caller_reference(self):
        cf = self.cf
        cfg = origin_access_identity(uniq("ref"))
        first = cf.create_cloud_front_origin_access_identity(CloudFrontOriginAccessIdentityConfig=cfg)
        again = cf.create_cloud_front_origin_access_identity(CloudFrontOriginAccessIdentityConfig=cfg)
        self.assertEqual(again["CloudFrontOriginAccessIdentity"], first["CloudFrontOriginAccessIdentity"])
        self.assertEqual(again["ETag"], first["ETag"])
        id = first["CloudFrontOriginAccessIdentity"]["Id"]
        moved = dict(cfg, CallerReference=uniq("other"))
        self.assertError(cf, "IllegalUpdate", 400, cf.update_cloud_front_origin_access_identity,
                         Id=id, IfMatch=first["ETag"], CloudFrontOriginAccessIdentityConfig=moved)
        summary = [i for i in cf.list_cloud_front_origin_access_identities()["CloudFrontOriginAccessIdentityList"]["Items"] if i["Id"] == id]
        self.assertEqual(summary, [{"Id": id, "S3CanonicalUserId": first["CloudFrontOriginAccessIdentity"]["S3CanonicalUserId"], "Comment": cfg["Comment"]}])

    def test_paginators(self):
        cf = self.cf
        made = {cf.create_origin_access_control(OriginAccessControlConfig=origin_access_control(uniq("pg")))["OriginAccessControl"]["Id"] for _ in range(3)}
        made_oai = {cf.create_cloud_front_origin_access_identity(CloudFrontOriginAccessIdentityConfig=origin_access_identity(uniq("pg")))["CloudFrontOriginAccessIdentity"]["Id"] for _ in range(3)}
        for op, key, want in [("list_origin_access_controls", "OriginAccessControlList", made),
                              ("list_cloud_front_origin_access_identities", "CloudFrontOriginAccessIdentityList", made_oai)]:
            ids = []
            pages = 0
            for page in cf.get_paginator(op).paginate(PaginationConfig={"PageSize": 2}):
                pages += 1
                ids += [i["Id"] for i in page[key].get("Items", [])]
            self.assertEqual(len(ids), len(set(ids)), op)
            self.assertTrue(want <= set(ids), op)
            self.assertGreaterEqual(pages, 2, op)

    def test_control_summary_and_rules(self):
        cf = self.cf
        cfg = origin_access_control(uniq("oac"))
        del cfg["Description"]
        oac = cf.create_origin_access_control(OriginAccessControlConfig=cfg)["OriginAccessControl"]
        items = cf.list_origin_access_controls()["OriginAccessControlList"]["Items"]
        mine = [i for i in items if i["Id"] == oac["Id"]]
        self.assertEqual(mine, [dict(cfg, Id=oac["Id"], Description="")])
        long = origin_access_control("n" * 65)
        self.assertError(cf, "InvalidArgument", 400, cf.create_origin_access_control, OriginAccessControlConfig=long)


def distribution_config(cache_policy_id, oac_id):
    return {
        "CallerReference": uniq("inuse"),
        "Origins": {"Quantity": 1, "Items": [{
            "Id": "s3", "DomainName": "inuse-bucket.s3.us-east-1.amazonaws.com",
            "S3OriginConfig": {"OriginAccessIdentity": ""}, "OriginAccessControlId": oac_id}]},
        "DefaultCacheBehavior": {"TargetOriginId": "s3", "ViewerProtocolPolicy": "allow-all", "CachePolicyId": cache_policy_id},
        "Comment": "",
        "Enabled": False,
    }


class InUse(compatlib.Case):
    """A policy or origin access control a distribution names cannot be
    deleted; once the distribution is gone it can."""

    def test_in_use(self):
        cf = make_client(ENDPOINT)
        cp = cf.create_cache_policy(CachePolicyConfig=cache_policy(uniq("inuse")))
        oac = cf.create_origin_access_control(OriginAccessControlConfig=origin_access_control(uniq("inuse")))
        cp_id, oac_id = cp["CachePolicy"]["Id"], oac["OriginAccessControl"]["Id"]
        d = cf.create_distribution(DistributionConfig=distribution_config(cp_id, oac_id))
        self.assertError(cf, "CachePolicyInUse", 409, cf.delete_cache_policy, Id=cp_id, IfMatch=cp["ETag"])
        self.assertError(cf, "OriginAccessControlInUse", 409, cf.delete_origin_access_control, Id=oac_id, IfMatch=oac["ETag"])
        # A managed policy is named like any other.
        self.assertError(cf, "NoSuchCachePolicy", 404, cf.create_distribution,
                         DistributionConfig=distribution_config("00000000-0000-4000-8000-000000000000", oac_id))
        cf.create_distribution(DistributionConfig=distribution_config(CACHING_OPTIMIZED, oac_id))
        cf.delete_distribution(Id=d["Distribution"]["Id"], IfMatch=d["ETag"])
        cf.delete_cache_policy(Id=cp_id, IfMatch=cp["ETag"])
        self.assertError(cf, "NoSuchCachePolicy", 404, cf.get_cache_policy, Id=cp_id)


class Quota(compatlib.Case):
    def test_cache_policies_per_account(self):
        cf = make_client(QUOTA_ENDPOINT)
        for i in range(20):
            cf.create_cache_policy(CachePolicyConfig=cache_policy(f"quota-{i}"))
        self.assertError(cf, "TooManyCachePolicies", 400, cf.create_cache_policy, CachePolicyConfig=cache_policy("quota-20"))
        # Managed policies do not count, and a deletion frees a place.
        pols = cf.list_cache_policies(Type="custom")["CachePolicyList"]["Items"]
        p = cf.get_cache_policy(Id=pols[0]["CachePolicy"]["Id"])
        cf.delete_cache_policy(Id=p["CachePolicy"]["Id"], IfMatch=p["ETag"])
        cf.create_cache_policy(CachePolicyConfig=cache_policy("quota-20"))


class Authorization(compatlib.Case):
    def test_key_limited_to_distributions(self):
        limited = make_client(AUTH_ENDPOINT, LIMITED_KEY, LIMITED_SECRET)
        full = make_client(AUTH_ENDPOINT, FULL_KEY, FULL_SECRET)
        for k in KINDS:
            with self.subTest(kind=k.name):
                out = k.create(full, k.make(uniq("auth")))
                id, etag = out[k.name]["Id"], out["ETag"]
                cfg = k.make(uniq("denied"))
                self.assertError(limited, "AccessDenied", 403, k.create, limited, cfg)
                self.assertError(limited, "AccessDenied", 403, k.get, limited, id)
                self.assertError(limited, "AccessDenied", 403, k.get_config, limited, id)
                self.assertError(limited, "AccessDenied", 403, k.update, limited, id, cfg, etag)
                self.assertError(limited, "AccessDenied", 403, k.delete, limited, id, etag)
                self.assertError(limited, "AccessDenied", 403, k.list, limited)
                k.delete(full, id, etag)


if __name__ == "__main__":
    compatlib.main(f"open {ENDPOINT}, quota {QUOTA_ENDPOINT}, auth {AUTH_ENDPOINT}")
