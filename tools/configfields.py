#!/usr/bin/env python3
"""List every DistributionConfig member and what openfront does with it.

Walks internal/cloudfront/xmlmodel/model.json (the trimmed botocore model
the codec validates against) from DistributionConfig, recursively, and
prints one Markdown table row per member path, e.g.
`DefaultCacheBehavior.ForwardedValues.QueryString` (list items are `[]`):

  Status   acted on       parsed into distribution.Config by
                          internal/cloudfront/distconfig.go (typedConfig,
                          typedOrigin, typedBehavior) or, for
                          CallerReference, decodeDistributionConfig;
                          ACTED_ON below mirrors that code by hand
           partly         a structure or list some of whose members are
                          acted on
           kept verbatim  validated against the model (element names,
                          types, enum values, required members,
                          Quantity = number of Items), stored and sent back
                          unchanged, otherwise ignored
  Default  what Normalize fills when the member is absent, parsed from
           internal/cloudfront/xmlmodel/defaults.go with its source
           (documented / observed / our choice)

No member of the model is refused; an element the model does not have is
(InvalidArgument "Unexpected element ...").

    python3 tools/configfields.py                  # print the table
    python3 tools/configfields.py --write docs/compatibility.md
        # replace the table between the markers
        # <!-- configfields:begin --> and <!-- configfields:end -->

The script fails if ACTED_ON names a path the model lacks, and warns when a
member it lists as acted on is not named in distconfig.go (the two drifted
apart: update ACTED_ON). Standard library only.
"""

import argparse
import json
import os
import re
import sys

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
MODEL = os.path.join(ROOT, "internal", "cloudfront", "xmlmodel", "model.json")
DEFAULTS = os.path.join(ROOT, "internal", "cloudfront", "xmlmodel", "defaults.go")
DISTCONFIG = os.path.join(ROOT, "internal", "cloudfront", "distconfig.go")
BEGIN, END = "<!-- configfields:begin -->", "<!-- configfields:end -->"

# Members of a cache behavior openfront acts on (typedBehavior), relative to
# DefaultCacheBehavior and to CacheBehaviors.Items[].
BEHAVIOR = {
    "TargetOriginId": "the origin fetched from; must be an origin's Id (NoSuchOrigin; an origin group's Id is refused too, unlike CloudFront)",
    "ViewerProtocolPolicy": "",
    "Compress": "",
    "AllowedMethods": "present: its Items; absent: HEAD, GET",
    "AllowedMethods.Items[]": "",
    "AllowedMethods.CachedMethods": "present: its Items; absent: HEAD, GET",
    "AllowedMethods.CachedMethods.Items[]": "",
    "CachePolicyId": "a managed policy's TTLs and query-string key (internal/policy/managed.go); another Id: CachingOptimized's TTLs in the typed behavior, the edge resolving the policy. With ForwardedValues or a TTL too: InvalidArgument. A ref (distribution.RefsOf): NoSuchCachePolicy 404 where the resource store checks refs",
    "OriginRequestPolicyId": "a ref (NoSuchOriginRequestPolicy 404 where the resource store checks refs); without a CachePolicyId: InvalidArgument",
    "ResponseHeadersPolicyId": "a ref (NoSuchResponseHeadersPolicy 404 where the resource store checks refs)",
    "ForwardedValues": "present (and no CachePolicyId): the legacy cache settings below apply; neither it nor CachePolicyId: InvalidArgument \"The parameter ForwardedValues is required.\"",
    "ForwardedValues.QueryString": "",
    "ForwardedValues.QueryStringCacheKeys.Items[]": "",
    "ForwardedValues.Headers.Items[]": "",
    "ForwardedValues.Cookies.Forward": "",
    "ForwardedValues.Cookies.WhitelistedNames.Items[]": "",
    "MinTTL": "only with ForwardedValues (with a CachePolicyId: InvalidArgument); MinTTL ≤ DefaultTTL ≤ MaxTTL (InvalidTTLOrder)",
    "DefaultTTL": "only with ForwardedValues (with a CachePolicyId: InvalidArgument)",
    "MaxTTL": "only with ForwardedValues (with a CachePolicyId: InvalidArgument)",
    "TrustedKeyGroups.Enabled": "true: the behavior serves only signed URLs and cookies (docs/compatibility.md, \"Public keys, key groups and signed URLs\")",
    "TrustedKeyGroups.Items[]": "refs (TrustedKeyGroupDoesNotExist 400 when unknown; more than 4 in a distribution: TooManyKeyGroupsAssociatedToDistribution 400); their public keys verify the behavior's signed URLs and cookies",
    "TrustedSigners.Enabled": "true: the behavior serves only signed URLs and cookies",
    "TrustedSigners.Items[]": "differs: any account number (or self) stands for the account's public keys, openfront having no CloudFront key pairs",
}

# Every member path openfront acts on, with a note. Mirrors distconfig.go.
ACTED_ON = {
    "CallerReference": "DistributionAlreadyExists when reused; IllegalUpdate when changed",
    "Enabled": "DeleteDistribution needs false (DistributionNotDisabled)",
    "Comment": "kept in distribution.Config; informational",
    "DefaultRootObject": "must not start with / nor contain ? or # (InvalidDefaultRootObject)",
    "Aliases.Items[]": "viewer routing by Host; valid host names, unique across distributions, case-insensitive (CNAMEAlreadyExists)",
    "Origins.Items[].Id": "non-empty, unique",
    "Origins.Items[].DomainName": "a host name or IPv4 address, no port (InvalidArgument)",
    "Origins.Items[].OriginPath": "starts with / and does not end with /",
    "Origins.Items[].CustomHeaders.Items[].HeaderName": "sent to the origin",
    "Origins.Items[].CustomHeaders.Items[].HeaderValue": "sent to the origin",
    "Origins.Items[].CustomOriginConfig": "absent: an S3-style origin, fetched over HTTPS on 443",
    "Origins.Items[].CustomOriginConfig.HTTPPort": "",
    "Origins.Items[].CustomOriginConfig.HTTPSPort": "",
    "Origins.Items[].CustomOriginConfig.OriginProtocolPolicy": "",
    "Origins.Items[].CustomOriginConfig.OriginReadTimeout": "",
    "Origins.Items[].CustomOriginConfig.OriginKeepaliveTimeout": "",
    "Origins.Items[].ConnectionAttempts": "",
    "Origins.Items[].ConnectionTimeout": "",
    "Origins.Items[].OriginAccessControlId": "a ref (InvalidOriginAccessControl where the resource store checks refs); with a non-empty S3OriginConfig.OriginAccessIdentity: IllegalOriginAccessConfiguration 400",
    "Origins.Items[].S3OriginConfig.OriginAccessIdentity": "with an OriginAccessControlId too: IllegalOriginAccessConfiguration 400",
    "CacheBehaviors.Items[].PathPattern": "unique among the behaviors",
    "CustomErrorResponses.Items[].ErrorCode": "400, 403, 404, 405, 414, 416, 500, 501, 502, 503 or 504 (InvalidErrorCode)",
    "CustomErrorResponses.Items[].ResponsePagePath": "starts with / (InvalidRelativePath); given with ResponseCode or not at all",
    "CustomErrorResponses.Items[].ResponseCode": "200 or an error code above (InvalidResponseCode)",
    "CustomErrorResponses.Items[].ErrorCachingMinTTL": "absent: the edge caches the error 10 s (not written into the config)",
}
for _rel, _note in BEHAVIOR.items():
    ACTED_ON["DefaultCacheBehavior." + _rel] = _note
    ACTED_ON["CacheBehaviors.Items[]." + _rel] = _note

# Notes on members openfront keeps verbatim.
NOTES = {
    "Origins": "1 to 100 origins (InvalidArgument, TooManyOrigins)",
    "Origins.Items[].S3OriginConfig": "an origin without CustomOriginConfig is fetched over HTTPS, whichever of S3OriginConfig / VpcOriginConfig it has",
    "Origins.Items[].VpcOriginConfig": "see S3OriginConfig",
    "OriginGroups": "failover is not implemented; a behavior may not target a group (NoSuchOrigin), unlike CloudFront",
    "ViewerCertificate.MinimumProtocolVersion": "kept as sent, also with the default certificate, where CloudFront forces TLSv1",
}

WHEN = {
    "defaultCert": "with the default certificate",
    "customCert": "with an ACM or IAM certificate",
    "acmCert": "with an ACM certificate",
    "iamCert": "with an IAM certificate",
    "forwardsValues": "with ForwardedValues",
}
COMPUTE = {
    "certificateID": "the ACMCertificateArn or IAMCertificateId; none with the default certificate",
    "certificateSource": "`cloudfront`, `acm` or `iam`, after the certificate",
}


def load_model():
    with open(MODEL, encoding="utf-8") as f:
        return json.load(f)


def first_source(text):
    """The first of documented / observed / our choice the comment names."""
    text = text.lower()
    found = [(text.find(k), k) for k in ("documented", "observed", "our choice") if k in text]
    return min(found)[1] if found else ""


def parse_defaults():
    """(shape, member) -> list of {value, when, compute, source} in table order."""
    with open(DEFAULTS, encoding="utf-8") as f:
        src = f.read()
    consts = dict(re.findall(r"^\s*(\w+)\s*=\s*`([^`]*)`", src, re.M))
    body = src[src.index("var defaults = []fill{"):]
    body = body[:body.index("\n}\n")]
    out = {}
    pending = ""  # the comment block above the entries, for entries without their own
    lines = body.split("\n")
    i = 0
    while i < len(lines):
        line = lines[i].strip()
        if not line:
            pending = ""
            i += 1
            continue
        if line.startswith("//"):
            if line.startswith("// ----"):
                pending = ""
            else:
                pending += " " + line[2:].strip()
            i += 1
            continue
        if line.startswith("{shape:"):
            entry = line
            while not re.search(r"\}\s*,\s*(//.*)?$", entry):
                i += 1
                entry += " " + lines[i].strip()
            m = re.match(r'\{shape:\s*"(\w+)",\s*member:\s*"(\w+)",?(.*?)\}\s*,\s*(?://\s*(.*))?$', entry)
            if not m:
                sys.exit(f"configfields.py: cannot parse a defaults.go entry: {entry}")
            shape, member, fields, comment = m.group(1), m.group(2), m.group(3), m.group(4) or ""
            value = None
            vm = re.search(r'value:\s*("(?:[^"\\]|\\.)*"|`[^`]*`|\w+)', fields)
            if vm:
                v = vm.group(1)
                if v.startswith('"'):
                    value = json.loads(v)
                elif v.startswith("`"):
                    value = v[1:-1]
                else:
                    value = consts[v]
            when = re.search(r"when:\s*(\w+)", fields)
            compute = re.search(r"compute:\s*(\w+)", fields)
            source = first_source(comment) or first_source(pending)
            out.setdefault((shape, member), []).append({
                "value": value,
                "when": when.group(1) if when else None,
                "compute": compute.group(1) if compute else None,
                "source": source,
            })
        i += 1
    return out


def walk(shapes):
    """Yields (path, shape name, parent shape name, member name, is_leaf)."""
    def rec(shape_name, path):
        s = shapes[shape_name]
        for m in s["members"]:
            p = f"{path}.{m['name']}" if path else m["name"]
            yield from visit(m["shape"], p, shape_name, m["name"])

    def visit(shape_name, path, parent, member):
        s = shapes[shape_name]
        if s["type"] == "structure":
            yield path, shape_name, parent, member, False
            yield from rec(shape_name, path)
        elif s["type"] == "list":
            yield path, shape_name, parent, member, False
            elem = shapes[s["member"]]
            if elem["type"] == "structure":
                yield from rec(s["member"], path + "[]")
            else:
                yield path + "[]", s["member"], None, None, True
        else:
            yield path, shape_name, parent, member, True

    yield from rec("DistributionConfig", "")


def type_of(shapes, name):
    s = shapes[name]
    if s["type"] == "list":
        return f"list of {type_of(shapes, s['member'])}" if shapes[s["member"]]["type"] != "structure" else f"list of {s['member']}"
    if s["type"] == "structure":
        return s["type"]
    if s.get("enum"):
        vals = s["enum"]
        return "enum: " + ", ".join(vals) if len(vals) <= 6 else f"enum ({len(vals)} values)"
    return s["type"]


def render_value(v):
    if v == "":
        return "`\"\"`" if v is not None else ""
    v = re.sub(r"\s+", " ", v)
    return "`" + v.replace("|", "\\|") + "`"


def default_text(fills, shapes, shape_name):
    parts = []
    for f in fills:
        if f["compute"]:
            text = COMPUTE.get(f["compute"], f["compute"])
        elif f["value"] == "" and shapes[shape_name]["type"] == "structure":
            text = "filled, with its members' defaults"
        else:
            text = render_value(f["value"])
        if f["when"]:
            text += " " + WHEN.get(f["when"], f"when {f['when']}")
        if f["source"]:
            text += f" ({f['source']})"
        parts.append(text)
    return "; ".join(parts)


def table():
    model = load_model()
    shapes = model["shapes"]
    fills = parse_defaults()
    rows = list(walk(shapes))
    paths = {r[0] for r in rows}
    missing = sorted(p for p in ACTED_ON if p not in paths)
    if missing:
        sys.exit("configfields.py: ACTED_ON names paths the model lacks: " + ", ".join(missing))
    with open(DISTCONFIG, encoding="utf-8") as f:
        distconfig = f.read()
    for p in ACTED_ON:
        # A list's items are read through the list's parent: Aliases.Items[]
        # is e.Items("Aliases").
        name = [n for n in p.replace("[]", "").split(".") if n != "Items"][-1]
        if f'"{name}"' not in distconfig:
            print(f"configfields.py: warning: {p} is listed as acted on but distconfig.go never names \"{name}\"", file=sys.stderr)
    used = {(s, m) for _, _, s, m, _ in rows if s}
    for key in fills:
        if key[0] != "Distribution" and key not in used:
            print(f"configfields.py: warning: defaults.go fills {key[0]}.{key[1]}, not reachable from DistributionConfig", file=sys.stderr)

    acted_prefixes = set()
    for p in ACTED_ON:
        if p.endswith("[]"):
            acted_prefixes.add(p[:-2])
        parts = p.split(".")
        for n in range(1, len(parts)):
            prefix = ".".join(parts[:n])
            acted_prefixes.add(prefix)
            acted_prefixes.add(prefix.removesuffix("[]"))

    out = [
        f"Generated by `python3 tools/configfields.py` from {model.get('source', 'model.json')}: "
        f"{len(rows)} member paths ({sum(1 for r in rows if r[0] in ACTED_ON)} acted on).",
        "",
        "| Member path | Type | Status | Default filled when absent | Notes |",
        "|---|---|---|---|---|",
    ]
    for path, shape_name, parent, member, leaf in rows:
        if path in ACTED_ON:
            status = "acted on"
        elif not leaf and path in acted_prefixes:
            status = "partly (see members)"
        else:
            status = "kept verbatim"
        note = ACTED_ON.get(path) or NOTES.get(path, "")
        if member == "Quantity" and parent and "Items" in [m["name"] for m in shapes[parent]["members"]]:
            note = note or "must equal the number of Items (InconsistentQuantities)"
        required = parent and member in shapes[parent].get("required", [])
        if required:
            note = "required" + ("; " + note if note else "")
        dflt = default_text(fills.get((parent, member), []), shapes, shape_name) if parent else ""
        out.append(f"| `{path}` | {type_of(shapes, shape_name)} | {status} | {dflt} | {note.replace('|', '/')} |")
    return "\n".join(out) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--write", metavar="FILE", help=f"replace the text between {BEGIN} and {END} in FILE")
    args = ap.parse_args()
    t = table()
    if not args.write:
        sys.stdout.write(t)
        return
    with open(args.write, encoding="utf-8") as f:
        doc = f.read()
    if doc.count(BEGIN) != 1 or doc.count(END) != 1:
        sys.exit(f"configfields.py: {args.write} must hold {BEGIN} and {END} once each")
    head, rest = doc.split(BEGIN)
    _, tail = rest.split(END)
    with open(args.write, "w", encoding="utf-8") as f:
        f.write(head + BEGIN + "\n" + t + END + tail)


if __name__ == "__main__":
    main()
