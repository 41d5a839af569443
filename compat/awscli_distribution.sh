#!/usr/bin/env bash
# compat/awscli_distribution.sh: openfront's distribution API driven by the
# AWS CLI, unmodified: Debian's package `awscli` (/usr/bin/aws) when
# installed, else the `aws` on PATH, or AWS_CLI=/path/to/aws. Every
# expectation is CloudFront's behaviour.
#
# Run by compat/run.sh, which starts the server and sets:
#   OPENFRONT_ENDPOINT         open mode, --deploy-delay 0: the CLI's
#                              distribution-deployed waiter polls every 60 s,
#                              so a distribution must be Deployed at once
#   OPENFRONT_DISTRIBUTION_ID  the distribution of its config file
# The set-up and helpers it shares with awscli.sh (cf, check, save,
# expect_error, ...) are in awscli_lib.sh.
. "$(dirname "${BASH_SOURCE[0]}")/awscli_lib.sh" OPENFRONT_ENDPOINT OPENFRONT_DISTRIBUTION_ID
export EP=$OPENFRONT_ENDPOINT FILE_DIST=$OPENFRONT_DISTRIBUTION_ID

# 1. create-distribution --origin-domain-name: the CLI builds the config
#    (custom origin, http-only, legacy ForwardedValues, MinTTL 0);
#    CloudFront answers 201 with the whole config, defaults filled.
out=$(cf create-distribution --origin-domain-name example.com)
check "$out" \
	'x = d["Distribution"]' \
	'assert d["Location"] == E["EP"] + "/2020-05-31/distribution/" + x["Id"], d["Location"]' \
	'assert d["ETag"], "no ETag"' \
	'assert x["Status"] == "InProgress", x["Status"]' \
	'assert x["ARN"].endswith(":distribution/" + x["Id"]), x["ARN"]' \
	'assert x["DomainName"].startswith("d"), x["DomainName"]' \
	'c = x["DistributionConfig"]' \
	'assert c["CallerReference"].startswith("cli-"), c["CallerReference"]' \
	'o = c["Origins"]["Items"][0]' \
	'assert c["Origins"]["Quantity"] == 1 and o["DomainName"] == "example.com", c["Origins"]' \
	'assert o["CustomOriginConfig"]["OriginProtocolPolicy"] == "http-only", o' \
	'assert (o["CustomOriginConfig"]["HTTPPort"], o["CustomOriginConfig"]["HTTPSPort"]) == (80, 443), o' \
	'assert (o["ConnectionAttempts"], o["ConnectionTimeout"]) == (3, 10), o' \
	'b = c["DefaultCacheBehavior"]' \
	'assert b["TargetOriginId"] == o["Id"], b' \
	'assert (b["MinTTL"], b["DefaultTTL"], b["MaxTTL"]) == (0, 86400, 31536000), b' \
	'assert b["AllowedMethods"]["Items"] == ["HEAD", "GET"], b["AllowedMethods"]' \
	'assert c["DefaultRootObject"] == "", c["DefaultRootObject"]' \
	'assert c["Enabled"] is True and c["Comment"] == "", c' \
	'assert c["PriceClass"] == "PriceClass_All" and c["HttpVersion"] == "http2" and c["IsIPV6Enabled"] is True, c' \
	'assert c["ViewerCertificate"]["CloudFrontDefaultCertificate"] is True, c["ViewerCertificate"]' \
	'assert c["Restrictions"]["GeoRestriction"] == {"RestrictionType": "none", "Quantity": 0}, c["Restrictions"]' \
	'assert c["Aliases"] == {"Quantity": 0} and c["CacheBehaviors"] == {"Quantity": 0}, c'
export ID1 ETAG1
ID1=$(field "$out" 'd["Distribution"]["Id"]')
ETAG1=$(field "$out" 'd["ETag"]')
save create1 "$out"
ok "create-distribution --origin-domain-name example.com -> $ID1 InProgress, defaults filled"

# 2. With --default-root-object, and an S3 origin (the CLI sends an
#    S3OriginConfig for *.s3.amazonaws.com).
out=$(cf create-distribution --origin-domain-name compat-bucket.s3.amazonaws.com --default-root-object index.html)
check "$out" \
	'c = d["Distribution"]["DistributionConfig"]' \
	'assert c["DefaultRootObject"] == "index.html", c["DefaultRootObject"]' \
	'o = c["Origins"]["Items"][0]' \
	'assert o["S3OriginConfig"] == {"OriginAccessIdentity": ""} and "CustomOriginConfig" not in o, o' \
	'assert d["Distribution"]["Id"] != E["ID1"]'
export ID2 ETAG2
ID2=$(field "$out" 'd["Distribution"]["Id"]')
ETAG2=$(field "$out" 'd["ETag"]')
ok "create-distribution --default-root-object index.html (S3 origin) -> $ID2"

# 3. get-distribution: the same distribution and config, the same ETag.
out=$(cf get-distribution --id "$ID1")
check "$out" \
	'x, c0 = d["Distribution"], load("create1")["Distribution"]' \
	'assert d["ETag"] == E["ETAG1"], (d["ETag"], E["ETAG1"])' \
	'assert x["Id"] == E["ID1"] and x["ARN"] == c0["ARN"] and x["DomainName"] == c0["DomainName"], x' \
	'assert x["Status"] in ("InProgress", "Deployed"), x["Status"]' \
	'assert x["DistributionConfig"] == c0["DistributionConfig"], "GetDistribution config differs from CreateDistribution'"'"'s"'
ok "get-distribution $ID1: same config, ETag $ETAG1"

# 4. get-distribution-config: the config and its ETag (what an update
#    needs).
out=$(cf get-distribution-config --id "$ID1")
check "$out" \
	'assert d["ETag"] == E["ETAG1"], (d["ETag"], E["ETAG1"])' \
	'assert d["DistributionConfig"] == load("create1")["Distribution"]["DistributionConfig"]'
save config1 "$out"
ok "get-distribution-config $ID1: ETag $ETAG1"

# 5. Edit the JSON (Enabled false, a comment) and update-distribution with
#    --if-match and --distribution-config file://.
"$PYTHON" -c '
import json, sys
with open(sys.argv[1]) as f:
    c = json.load(f)["DistributionConfig"]
c["Enabled"] = False
c["Comment"] = "disabled by compat/awscli_distribution.sh"
with open(sys.argv[2], "w") as f:
    json.dump(c, f, indent=1)
' "$TMP/config1.json" "$TMP/disabled.json"
out=$(cf update-distribution --id "$ID1" --if-match "$ETAG1" --distribution-config "file://$TMP/disabled.json")
check "$out" \
	'x = d["Distribution"]' \
	'assert d["ETag"] and d["ETag"] != E["ETAG1"], "the ETag must change: %s" % d["ETag"]' \
	'assert x["Id"] == E["ID1"] and x["Status"] == "InProgress", x["Status"]' \
	'c = x["DistributionConfig"]' \
	'assert c["Enabled"] is False, c["Enabled"]' \
	'assert c["Comment"] == "disabled by compat/awscli_distribution.sh", c["Comment"]' \
	'before = load("config1")["DistributionConfig"]' \
	'assert {k: v for k, v in c.items() if k not in ("Enabled", "Comment")} == {k: v for k, v in before.items() if k not in ("Enabled", "Comment")}, "update changed other members"'
export ETAG1B
ETAG1B=$(field "$out" 'd["ETag"]')
ok "update-distribution --if-match $ETAG1 --distribution-config file://… -> Enabled false, ETag $ETAG1B"

# 6. The ETag before the update is stale now: PreconditionFailed.
expect_error PreconditionFailed update-distribution --id "$ID1" --if-match "$ETAG1" --distribution-config "file://$TMP/disabled.json"
ok "update-distribution with a stale --if-match -> PreconditionFailed"

# 7. update-distribution --default-root-object: the CLI gets the config
#    and its ETag itself, then updates.
out=$(cf update-distribution --id "$ID2" --default-root-object home.html)
check "$out" \
	'assert d["Distribution"]["DistributionConfig"]["DefaultRootObject"] == "home.html"' \
	'assert d["ETag"] != E["ETAG2"]'
ETAG2=$(field "$out" 'd["ETag"]')
ok "update-distribution --default-root-object home.html -> $ID2"

# 8. wait distribution-deployed: with --deploy-delay 0 the distribution is
#    Deployed before the waiter starts, so its first poll succeeds.
out=$(cf get-distribution --id "$ID1")
check "$out" 'assert d["Distribution"]["Status"] == "Deployed", "not Deployed with --deploy-delay 0: " + d["Distribution"]["Status"]'
cf wait distribution-deployed --id "$ID1"
out=$(cf get-distribution --id "$ID1")
check "$out" \
	'assert d["Distribution"]["Status"] == "Deployed", d["Distribution"]["Status"]' \
	'assert d["ETag"] == E["ETAG1B"], "deploying changed the ETag"'
ok "wait distribution-deployed $ID1 -> Deployed"

# 9. Deleting an enabled distribution: DistributionNotDisabled.
expect_error DistributionNotDisabled delete-distribution --id "$ID2" --if-match "$ETAG2"
ok "delete-distribution of an enabled distribution -> DistributionNotDisabled"
expect_error InvalidIfMatchVersion delete-distribution --id "$ID1"
ok "delete-distribution without --if-match -> InvalidIfMatchVersion"

# 10. list-distributions: the CLI follows NextMarker itself.
out=$(cf list-distributions)
check "$out" \
	'ids = [s["Id"] for s in d["DistributionList"]["Items"]]' \
	'assert {E["ID1"], E["ID2"], E["FILE_DIST"]} <= set(ids), ids' \
	'assert len(ids) == len(set(ids)), ids' \
	's = [s for s in d["DistributionList"]["Items"] if s["Id"] == E["ID1"]][0]' \
	'assert s["Enabled"] is False and s["Status"] == "Deployed", s' \
	'assert s["Comment"] == "disabled by compat/awscli_distribution.sh", s["Comment"]'
save list "$out"
out=$(cf list-distributions --page-size 1)
check "$out" 'assert [s["Id"] for s in d["DistributionList"]["Items"]] == [s["Id"] for s in load("list")["DistributionList"]["Items"]]'
out=$(cf list-distributions --max-items 1 --page-size 1)
check "$out" \
	'assert [s["Id"] for s in d["DistributionList"]["Items"]] == [s["Id"] for s in load("list")["DistributionList"]["Items"]][:1]' \
	'assert d.get("NextToken"), "--max-items 1 of 3+ must give a NextToken"'
token=$(field "$out" 'd["NextToken"]')
out=$(cf list-distributions --starting-token "$token" --page-size 1)
check "$out" 'assert [s["Id"] for s in d["DistributionList"]["Items"]] == [s["Id"] for s in load("list")["DistributionList"]["Items"]][1:]'
ok "list-distributions: $ID1, $ID2 and $FILE_DIST; --page-size 1, --max-items/--starting-token"

# 11. delete-distribution of the disabled, Deployed distribution: no
#     output; it is gone.
out=$(cf delete-distribution --id "$ID1" --if-match "$ETAG1B")
[[ -z $out ]] || fail "delete-distribution printed: $out"
expect_error NoSuchDistribution get-distribution --id "$ID1"
out=$(cf list-distributions)
check "$out" 'assert E["ID1"] not in [s["Id"] for s in d["DistributionList"].get("Items", [])]'
ok "delete-distribution --id $ID1 --if-match $ETAG1B -> gone from get and list"

# 12. More errors.
expect_error NoSuchDistribution get-distribution-config --id ENOSUCHDIST0001
ok "get-distribution-config of an unknown Id -> NoSuchDistribution"
expect_error NoSuchDistribution update-distribution --id ENOSUCHDIST0001 --if-match E2QWRUHEXAMPLE --distribution-config "file://$TMP/disabled.json"
ok "update-distribution of an unknown Id -> NoSuchDistribution"
"$PYTHON" -c '
import json, sys
with open(sys.argv[1]) as f:
    c = json.load(f)
c["CallerReference"] = "compat-awscli-dist-dup"
c["Aliases"] = {"Quantity": 2, "Items": ["only-one.compat.test"]}
with open(sys.argv[2], "w") as f:
    json.dump(c, f)
' "$TMP/disabled.json" "$TMP/inconsistent.json"
expect_error InconsistentQuantities create-distribution --distribution-config "file://$TMP/inconsistent.json"
ok "create-distribution with Aliases Quantity 2 and 1 item -> InconsistentQuantities"
# The CallerReference of a distribution that exists.
out=$(cf get-distribution-config --id "$ID2")
save config2 "$out"
"$PYTHON" -c '
import json, sys
with open(sys.argv[1]) as f:
    c = json.load(f)["DistributionConfig"]
with open(sys.argv[2], "w") as f:
    json.dump(c, f)
' "$TMP/config2.json" "$TMP/again.json"
expect_error DistributionAlreadyExists create-distribution --distribution-config "file://$TMP/again.json"
ok "create-distribution reusing a CallerReference -> DistributionAlreadyExists"

done_ok
