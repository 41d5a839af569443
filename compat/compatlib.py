"""What the boto3 suites (boto3_test.py, boto3_distribution_test.py) share:
their environment, the client, the error check and the entry point. Not a
suite itself: compat/run.sh runs the two suites, which import this module
from their own directory.
"""

import os
import sys
import unittest
import uuid

import boto3
import botocore
from botocore import UNSIGNED
from botocore.config import Config
from botocore.exceptions import ClientError

UNKNOWN_DIST = "ENOSUCHDIST0001"


def env(name):
    """The value of a variable compat/run.sh sets; the suite stops without it."""
    value = os.environ.get(name)
    if not value:
        suite = os.path.basename(sys.argv[0]) or "compat"
        sys.exit(f"{suite}: {name} is not set; run compat/run.sh, which starts the servers")
    return value


def make_client(endpoint, key="AKIAOPENMODEDUMMY", secret="open-mode-accepts-any-secret", signed=True):
    """A CloudFront client of endpoint; the default keys suit open mode."""
    cfg = Config(
        # One attempt: a retried 5xx must not hide a server fault.
        retries={"total_max_attempts": 1},
        connect_timeout=5,
        read_timeout=60,
    )
    if not signed:
        cfg = cfg.merge(Config(signature_version=UNSIGNED))
    return boto3.session.Session().client(
        "cloudfront",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id=key,
        aws_secret_access_key=secret,
        config=cfg,
    )


def unique_ref(prefix):
    """A CallerReference no other test (or earlier run) uses."""
    return prefix + uuid.uuid4().hex


class Case(unittest.TestCase):
    maxDiff = None

    def assertError(self, client, code, status, call, *args, **kwargs):
        """call must fail with CloudFront error code and HTTP status; when the
        model defines the code, boto3 must raise its modeled exception."""
        with self.assertRaises(ClientError) as cm:
            call(*args, **kwargs)
        exc = cm.exception
        resp = exc.response
        got = (resp.get("Error", {}).get("Code"), resp.get("ResponseMetadata", {}).get("HTTPStatusCode"))
        self.assertEqual(got, (code, status), f"error code and HTTP status; full response: {resp}")
        self.assertTrue(resp["Error"].get("Message"), f"error without a message: {resp}")
        self.assertTrue(resp["ResponseMetadata"].get("RequestId"), f"error without a request id: {resp}")
        modeled = getattr(client.exceptions, code, None)
        if modeled is not None:
            self.assertIsInstance(exc, modeled, f"boto3 did not raise client.exceptions.{code}")
        return exc


def main(endpoints):
    """Runs the calling suite's tests (those of __main__), verbosely, after
    a line of versions and one of the endpoints."""
    print(f"boto3 {boto3.__version__}, botocore {botocore.__version__}, Python {sys.version.split()[0]}", flush=True)
    print(f"endpoints: {endpoints}", flush=True)
    unittest.main(module="__main__", verbosity=2)
