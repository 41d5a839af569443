#!/usr/bin/env python3
"""openfront compatibility scenarios driven by boto3, unmodified.

Every expectation here is CloudFront's behaviour (API 2020-05-31, as the
service model botocore ships describes it), not openfront's: a failure means
openfront differs from CloudFront, or boto3 cannot use it as it would use
CloudFront.

Run by compat/run.sh, which starts the servers and sets:
  OPENFRONT_ENDPOINT        open mode, --invalidation-delay 0
  OPENFRONT_DELAY_ENDPOINT  open mode, --invalidation-delay 2s
  OPENFRONT_AUTH_ENDPOINT   credentials on (compat/openfront-auth.yaml plus
                            OPENFRONT_ACCESS_KEY_ID/OPENFRONT_SECRET_ACCESS_KEY)
  OPENFRONT_DISTRIBUTION_ID the distribution of the open-mode servers
  COMPAT_AUTH_DIST, COMPAT_AUTH_OTHER_DIST       the two distributions of the
                                                 auth server
  COMPAT_FULL_KEY_ID, COMPAT_FULL_SECRET         a key for every distribution
  COMPAT_LIMITED_KEY_ID, COMPAT_LIMITED_SECRET   a key limited to
                                                 COMPAT_AUTH_OTHER_DIST

What it shares with boto3_distribution_test.py (the client, assertError,
the entry point) is in compatlib.py.
"""

import datetime
import re

from botocore.exceptions import WaiterError

import compatlib
from compatlib import UNKNOWN_DIST, env, make_client

ENDPOINT = env("OPENFRONT_ENDPOINT")
DELAY_ENDPOINT = env("OPENFRONT_DELAY_ENDPOINT")
AUTH_ENDPOINT = env("OPENFRONT_AUTH_ENDPOINT")
DIST = env("OPENFRONT_DISTRIBUTION_ID")
AUTH_DIST = env("COMPAT_AUTH_DIST")
AUTH_OTHER_DIST = env("COMPAT_AUTH_OTHER_DIST")
FULL_KEY, FULL_SECRET = env("COMPAT_FULL_KEY_ID"), env("COMPAT_FULL_SECRET")
LIMITED_KEY, LIMITED_SECRET = env("COMPAT_LIMITED_KEY_ID"), env("COMPAT_LIMITED_SECRET")

ID_RE = re.compile(r"^[A-Z0-9]+$")


def ref():
    return compatlib.unique_ref("compat-boto3-")


def batch(paths, caller_reference=None, quantity=None):
    return {
        "Paths": {"Quantity": len(paths) if quantity is None else quantity, "Items": list(paths)},
        "CallerReference": caller_reference or ref(),
    }


class Case(compatlib.Case):
    """compatlib.Case (assertError) and the shape of an invalidation."""

    def assertInvalidation(self, inv, paths, caller_reference):
        self.assertRegex(inv["Id"], ID_RE)
        self.assertIn(inv["Status"], ("InProgress", "Completed"))
        self.assertIsInstance(inv["CreateTime"], datetime.datetime)
        self.assertIsNotNone(inv["CreateTime"].tzinfo, "CreateTime must carry a time zone")
        now = datetime.datetime.now(datetime.timezone.utc)
        self.assertLess(abs((now - inv["CreateTime"]).total_seconds()), 120, f"CreateTime {inv['CreateTime']} is not now")
        self.assertEqual(
            inv["InvalidationBatch"],
            {"Paths": {"Quantity": len(paths), "Items": list(paths)}, "CallerReference": caller_reference},
        )


class OpenMode(Case):
    """A server in open mode with no invalidation delay: any keys work."""

    @classmethod
    def setUpClass(cls):
        cls.cf = make_client(ENDPOINT)

    def create(self, paths, caller_reference=None, dist=DIST):
        return self.cf.create_invalidation(DistributionId=dist, InvalidationBatch=batch(paths, caller_reference))

    def test_create_invalidation_shape(self):
        r = ref()
        paths = ["/index.html", "/images/*"]
        resp = self.create(paths, r)
        self.assertEqual(resp["ResponseMetadata"]["HTTPStatusCode"], 201)
        inv = resp["Invalidation"]
        self.assertInvalidation(inv, paths, r)
        self.assertEqual(inv["Status"], "InProgress", "a new invalidation is InProgress")
        location = resp["Location"]
        self.assertTrue(location.startswith(ENDPOINT + "/"), f"Location {location!r} does not start with {ENDPOINT}")
        self.assertEqual(location, f"{ENDPOINT}/2020-05-31/distribution/{DIST}/invalidation/{inv['Id']}")

        got = self.cf.get_invalidation(DistributionId=DIST, Id=inv["Id"])
        self.assertEqual(got["ResponseMetadata"]["HTTPStatusCode"], 200)
        self.assertInvalidation(got["Invalidation"], paths, r)
        self.assertEqual(got["Invalidation"]["Id"], inv["Id"])
        self.assertEqual(got["Invalidation"]["CreateTime"], inv["CreateTime"])

    def test_paths_are_kept_verbatim(self):
        # "&" must travel XML-escaped both ways.
        paths = ["/a%20b/c.html", "/search?q=1&page=2", "/*"]
        r = ref()
        inv = self.create(paths, r)["Invalidation"]
        self.assertInvalidation(inv, paths, r)
        got = self.cf.get_invalidation(DistributionId=DIST, Id=inv["Id"])["Invalidation"]
        self.assertInvalidation(got, paths, r)

    def test_replay_returns_same_invalidation(self):
        r = ref()
        first = self.create(["/replay/a", "/replay/b"], r)
        again = self.create(["/replay/a", "/replay/b"], r)
        self.assertEqual(again["ResponseMetadata"]["HTTPStatusCode"] // 100, 2)
        self.assertEqual(again["Invalidation"]["Id"], first["Invalidation"]["Id"])
        self.assertEqual(again["Invalidation"]["CreateTime"], first["Invalidation"]["CreateTime"])
        self.assertInvalidation(again["Invalidation"], ["/replay/a", "/replay/b"], r)

    def test_same_reference_different_paths(self):
        r = ref()
        self.create(["/conflict/a"], r)
        self.assertError(self.cf, "InvalidationBatchAlreadyExists", 409, self.create, ["/conflict/b"], r)

    def test_path_without_leading_slash(self):
        self.assertError(self.cf, "InvalidArgument", 400, self.create, ["no-leading-slash.html"])

    def test_quantity_mismatch(self):
        # botocore sends Quantity as given; it does not compute it from Items.
        self.assertError(
            self.cf, "InconsistentQuantities", 400, self.cf.create_invalidation,
            DistributionId=DIST, InvalidationBatch=batch(["/q/a", "/q/b"], quantity=3),
        )

    def test_batch_too_large(self):
        paths = [f"/too-large/{i}.html" for i in range(3001)]
        self.assertError(self.cf, "BatchTooLarge", 413, self.create, paths)

    def test_no_such_distribution(self):
        self.assertError(self.cf, "NoSuchDistribution", 404, self.create, ["/a"], dist=UNKNOWN_DIST)
        self.assertError(self.cf, "NoSuchDistribution", 404, self.cf.get_invalidation, DistributionId=UNKNOWN_DIST, Id="IABCDEFGHIJKLM")
        self.assertError(self.cf, "NoSuchDistribution", 404, self.cf.list_invalidations, DistributionId=UNKNOWN_DIST)

    def test_no_such_invalidation(self):
        self.assertError(self.cf, "NoSuchInvalidation", 404, self.cf.get_invalidation, DistributionId=DIST, Id="INOSUCHINVALID")

    def test_waiter_invalidation_completed(self):
        inv = self.create(["/waiter/a"])["Invalidation"]
        self.cf.get_waiter("invalidation_completed").wait(
            DistributionId=DIST, Id=inv["Id"], WaiterConfig={"Delay": 1, "MaxAttempts": 10}
        )
        self.assertEqual(self.cf.get_invalidation(DistributionId=DIST, Id=inv["Id"])["Invalidation"]["Status"], "Completed")

    def test_list_paginator(self):
        fresh = [self.create([f"/page/{i}"])["Invalidation"]["Id"] for i in range(6)]
        pages = list(self.cf.get_paginator("list_invalidations").paginate(
            DistributionId=DIST, PaginationConfig={"PageSize": 2}
        ))
        ids, times = [], []
        for n, page in enumerate(pages):
            lst = page["InvalidationList"]
            self.assertEqual(page["ResponseMetadata"]["HTTPStatusCode"], 200)
            self.assertEqual(lst["MaxItems"], 2)
            items = lst.get("Items", [])
            self.assertEqual(lst["Quantity"], len(items))
            self.assertLessEqual(len(items), 2)
            last = n == len(pages) - 1
            self.assertEqual(lst["IsTruncated"], not last, f"IsTruncated on page {n} of {len(pages)}")
            if not last:
                self.assertEqual(lst["NextMarker"], items[-1]["Id"], "NextMarker is the Id of the page's last item")
            for s in items:
                self.assertEqual(set(s), {"Id", "CreateTime", "Status"})
                self.assertIn(s["Status"], ("InProgress", "Completed"))
                ids.append(s["Id"])
                times.append(s["CreateTime"])
        self.assertGreaterEqual(len(pages), 3, "PageSize 2 over 6+ invalidations must take 3+ pages")
        self.assertEqual(len(ids), len(set(ids)), f"duplicate Ids across pages: {ids}")
        self.assertEqual(ids[:6], fresh[::-1], "newest first")
        self.assertEqual(times, sorted(times, reverse=True), "CreateTime must not increase down the list")

        # The same list in one request.
        whole = self.cf.list_invalidations(DistributionId=DIST, MaxItems="1000")["InvalidationList"]
        self.assertFalse(whole["IsTruncated"])
        self.assertEqual([s["Id"] for s in whole["Items"]], ids)

        # The paginator's own MaxItems stops early and resumes from its token.
        first = self.cf.get_paginator("list_invalidations").paginate(
            DistributionId=DIST, PaginationConfig={"PageSize": 2, "MaxItems": 3}
        ).build_full_result()
        self.assertEqual([s["Id"] for s in first["InvalidationList"]["Items"]], ids[:3])
        rest = self.cf.get_paginator("list_invalidations").paginate(
            DistributionId=DIST, PaginationConfig={"PageSize": 2, "StartingToken": first["NextToken"]}
        ).build_full_result()
        self.assertEqual([s["Id"] for s in rest["InvalidationList"]["Items"]], ids[3:])

    def test_list_bad_max_items(self):
        for bad in ("abc", "-1"):
            with self.subTest(MaxItems=bad):
                self.assertError(self.cf, "InvalidArgument", 400, self.cf.list_invalidations, DistributionId=DIST, MaxItems=bad)


class WithDelay(Case):
    """A server with --invalidation-delay 2s: invalidations stay InProgress."""

    @classmethod
    def setUpClass(cls):
        cls.cf = make_client(DELAY_ENDPOINT)

    def test_waiter_waits_for_completion(self):
        inv = self.cf.create_invalidation(DistributionId=DIST, InvalidationBatch=batch(["/slow/a", "/slow/b"]))["Invalidation"]
        self.assertEqual(inv["Status"], "InProgress")
        got = self.cf.get_invalidation(DistributionId=DIST, Id=inv["Id"])["Invalidation"]
        self.assertEqual(got["Status"], "InProgress", "still InProgress right after creation with a 2s delay")
        listed = self.cf.list_invalidations(DistributionId=DIST)["InvalidationList"]["Items"]
        self.assertEqual({s["Id"]: s["Status"] for s in listed}.get(inv["Id"]), "InProgress")

        waiter = self.cf.get_waiter("invalidation_completed")
        with self.assertRaises(WaiterError):
            waiter.wait(DistributionId=DIST, Id=inv["Id"], WaiterConfig={"Delay": 1, "MaxAttempts": 1})
        waiter.wait(DistributionId=DIST, Id=inv["Id"], WaiterConfig={"Delay": 1, "MaxAttempts": 20})
        self.assertEqual(self.cf.get_invalidation(DistributionId=DIST, Id=inv["Id"])["Invalidation"]["Status"], "Completed")

    def test_too_many_wildcards_in_progress(self):
        # CloudFront allows 15 wildcard paths in progress per distribution.
        wild = [f"/wild/{i}/*" for i in range(15)]
        inv = self.cf.create_invalidation(DistributionId=DIST, InvalidationBatch=batch(wild))["Invalidation"]
        self.assertError(
            self.cf, "TooManyInvalidationsInProgress", 400, self.cf.create_invalidation,
            DistributionId=DIST, InvalidationBatch=batch(["/one-more/*"]),
        )
        self.cf.get_waiter("invalidation_completed").wait(
            DistributionId=DIST, Id=inv["Id"], WaiterConfig={"Delay": 1, "MaxAttempts": 20}
        )
        self.cf.create_invalidation(DistributionId=DIST, InvalidationBatch=batch(["/one-more/*"]))


class Auth(Case):
    """A server with credentials: requests must be signed with SigV4."""

    def test_correct_keys_work(self):
        cf = make_client(AUTH_ENDPOINT, FULL_KEY, FULL_SECRET)
        for dist in (AUTH_DIST, AUTH_OTHER_DIST):
            with self.subTest(dist=dist):
                r = ref()
                resp = cf.create_invalidation(DistributionId=dist, InvalidationBatch=batch(["/auth/a"], r))
                self.assertEqual(resp["ResponseMetadata"]["HTTPStatusCode"], 201)
                inv = resp["Invalidation"]
                self.assertInvalidation(inv, ["/auth/a"], r)
                self.assertEqual(cf.get_invalidation(DistributionId=dist, Id=inv["Id"])["Invalidation"]["Id"], inv["Id"])
                ids = [s["Id"] for s in cf.list_invalidations(DistributionId=dist)["InvalidationList"]["Items"]]
                self.assertIn(inv["Id"], ids)

    def test_wrong_secret(self):
        cf = make_client(AUTH_ENDPOINT, FULL_KEY, FULL_SECRET + "wrong")
        self.assertError(cf, "SignatureDoesNotMatch", 403, cf.list_invalidations, DistributionId=AUTH_DIST)
        self.assertError(cf, "SignatureDoesNotMatch", 403, cf.create_invalidation,
                         DistributionId=AUTH_DIST, InvalidationBatch=batch(["/x"]))

    def test_unknown_key(self):
        cf = make_client(AUTH_ENDPOINT, "AKIANOSUCHKEY0000000", FULL_SECRET)
        self.assertError(cf, "InvalidClientTokenId", 403, cf.list_invalidations, DistributionId=AUTH_DIST)

    def test_unsigned(self):
        cf = make_client(AUTH_ENDPOINT, signed=False)
        self.assertError(cf, "MissingAuthenticationToken", 403, cf.list_invalidations, DistributionId=AUTH_DIST)

    def test_key_limited_to_another_distribution(self):
        cf = make_client(AUTH_ENDPOINT, LIMITED_KEY, LIMITED_SECRET)
        # Its own distribution works.
        inv = cf.create_invalidation(DistributionId=AUTH_OTHER_DIST, InvalidationBatch=batch(["/mine"]))["Invalidation"]
        cf.get_invalidation(DistributionId=AUTH_OTHER_DIST, Id=inv["Id"])
        cf.list_invalidations(DistributionId=AUTH_OTHER_DIST)
        # The other one is denied, whatever the operation.
        full = make_client(AUTH_ENDPOINT, FULL_KEY, FULL_SECRET)
        theirs = full.create_invalidation(DistributionId=AUTH_DIST, InvalidationBatch=batch(["/theirs"]))["Invalidation"]
        self.assertError(cf, "AccessDenied", 403, cf.create_invalidation, DistributionId=AUTH_DIST, InvalidationBatch=batch(["/x"]))
        self.assertError(cf, "AccessDenied", 403, cf.get_invalidation, DistributionId=AUTH_DIST, Id=theirs["Id"])
        self.assertError(cf, "AccessDenied", 403, cf.list_invalidations, DistributionId=AUTH_DIST)


if __name__ == "__main__":
    compatlib.main(f"open {ENDPOINT}, delay {DELAY_ENDPOINT}, auth {AUTH_ENDPOINT}")
