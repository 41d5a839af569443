#!/usr/bin/env bash
# compat/awscli.sh: openfront compatibility scenarios driven by the AWS CLI,
# unmodified: Debian's package `awscli` (/usr/bin/aws) when installed, else
# the `aws` on PATH, or AWS_CLI=/path/to/aws. Works with CLI v1 and v2.
#
# Run by compat/run.sh, which starts the servers and sets:
#   OPENFRONT_ENDPOINT         open mode, --invalidation-delay 0
#   OPENFRONT_DELAY_ENDPOINT   open mode, --invalidation-delay 2s
#   OPENFRONT_DISTRIBUTION_ID  a distribution of both
# The set-up and helpers it shares with awscli_distribution.sh (cf, check,
# expect_error, ...) are in awscli_lib.sh.
. "$(dirname "${BASH_SOURCE[0]}")/awscli_lib.sh" OPENFRONT_ENDPOINT OPENFRONT_DELAY_ENDPOINT OPENFRONT_DISTRIBUTION_ID
export EP=$OPENFRONT_ENDPOINT DIST=$OPENFRONT_DISTRIBUTION_ID

# 1. create-invalidation with --paths: 2 paths, InProgress, Location.
out=$(cf create-invalidation --distribution-id "$DIST" --paths /a /b)
check "$out" \
	'assert d["Location"].startswith(EP + "/"), d["Location"]' \
	'inv = d["Invalidation"]' \
	'assert d["Location"] == EP + "/2020-05-31/distribution/" + DIST + "/invalidation/" + inv["Id"], d["Location"]' \
	'assert inv["Status"] == "InProgress", inv["Status"]' \
	'assert inv["InvalidationBatch"]["Paths"] == {"Quantity": 2, "Items": ["/a", "/b"]}' \
	'assert inv["InvalidationBatch"]["CallerReference"], "the CLI sets a CallerReference"' \
	'assert inv["CreateTime"][:2] == "20", inv["CreateTime"]'
ID1=$(field "$out" 'd["Invalidation"]["Id"]')
CREATED1=$(field "$out" 'd["Invalidation"]["CreateTime"]')
ok "create-invalidation --paths /a /b -> $ID1 InProgress, Location under $EP"

# 2. get-invalidation returns the same invalidation.
out=$(cf get-invalidation --distribution-id "$DIST" --id "$ID1")
check "$out" \
	'inv = d["Invalidation"]' \
	"assert inv['Id'] == '$ID1', inv['Id']" \
	"assert inv['CreateTime'] == '$CREATED1', inv['CreateTime']" \
	'assert inv["Status"] in ("InProgress", "Completed"), inv["Status"]' \
	'assert inv["InvalidationBatch"]["Paths"] == {"Quantity": 2, "Items": ["/a", "/b"]}'
ok "get-invalidation $ID1"

# 3. --invalidation-batch with an explicit CallerReference, sent twice: the
#    replay returns the same invalidation.
ref="compat-awscli-$$-$RANDOM$RANDOM"
batch='{"Paths":{"Quantity":2,"Items":["/c/*","/d.html"]},"CallerReference":"'$ref'"}'
out=$(cf create-invalidation --distribution-id "$DIST" --invalidation-batch "$batch")
ID2=$(field "$out" 'd["Invalidation"]["Id"]')
check "$out" "assert d['Invalidation']['InvalidationBatch']['CallerReference'] == '$ref'"
out=$(cf create-invalidation --distribution-id "$DIST" --invalidation-batch "$batch")
check "$out" "assert d['Invalidation']['Id'] == '$ID2', 'replay made a new invalidation: ' + d['Invalidation']['Id']"
ok "create-invalidation --invalidation-batch replayed -> same Id $ID2"

# 4. list-invalidations: the CLI follows NextMarker itself; with
#    --page-size 1 every page holds one item.
ID3=$(cf create-invalidation --distribution-id "$DIST" --paths /e --query Invalidation.Id --output text)
out=$(cf list-invalidations --distribution-id "$DIST" --page-size 1)
check "$out" \
	'ids = [s["Id"] for s in d["InvalidationList"]["Items"]]' \
	"assert ids == ['$ID3', '$ID2', '$ID1'], ids" \
	'assert all(s["Status"] in ("InProgress", "Completed") for s in d["InvalidationList"]["Items"])'
out=$(cf list-invalidations --distribution-id "$DIST" --no-paginate)
check "$out" \
	'lst = d["InvalidationList"]' \
	"assert [s['Id'] for s in lst['Items']] == ['$ID3', '$ID2', '$ID1'], lst" \
	'assert lst["IsTruncated"] is False and lst["Quantity"] == 3, lst'
out=$(cf list-invalidations --distribution-id "$DIST" --max-items 2 --page-size 1)
check "$out" \
	"assert [s['Id'] for s in d['InvalidationList']['Items']] == ['$ID3', '$ID2']" \
	'assert d.get("NextToken"), "--max-items 2 of 3 must give a NextToken"'
token=$(field "$out" 'd["NextToken"]')
out=$(cf list-invalidations --distribution-id "$DIST" --starting-token "$token")
check "$out" "assert [s['Id'] for s in d['InvalidationList']['Items']] == ['$ID1']"
ok "list-invalidations: newest first, one per page, --max-items/--starting-token"

# 5. wait invalidation-completed (no delay: done at once).
start=$SECONDS
cf wait invalidation-completed --distribution-id "$DIST" --id "$ID1"
out=$(cf get-invalidation --distribution-id "$DIST" --id "$ID1")
check "$out" 'assert d["Invalidation"]["Status"] == "Completed", d["Invalidation"]["Status"]'
ok "wait invalidation-completed $ID1 ($((SECONDS - start))s)"

# 6. With --invalidation-delay 2s the waiter returns only once the server
#    says Completed. The order of events is what is checked, never a
#    duration: the create answer says InProgress (always, whatever the
#    clock), the waiter returns, and the server then says Completed. A
#    get-invalidation in between may see either status, depending on how
#    long the CLI took to start, so it is not asserted.
DEP=$OPENFRONT_DELAY_ENDPOINT
out=$(cf_at "$DEP" create-invalidation --distribution-id "$DIST" --paths '/slow/*')
check "$out" 'assert d["Invalidation"]["Status"] == "InProgress", "the 201 of a delayed invalidation must say InProgress"'
SLOW=$(field "$out" 'd["Invalidation"]["Id"]')
cf_at "$DEP" wait invalidation-completed --distribution-id "$DIST" --id "$SLOW"
out=$(cf_at "$DEP" get-invalidation --distribution-id "$DIST" --id "$SLOW")
check "$out" 'assert d["Invalidation"]["Status"] == "Completed", d["Invalidation"]["Status"]'
ok "wait invalidation-completed with --invalidation-delay 2s: InProgress, then the waiter, then Completed"

# 7. Errors: non-zero exit, the CloudFront error code on stderr.
expect_error NoSuchInvalidation get-invalidation --distribution-id "$DIST" --id INOSUCHINVALID
ok "get-invalidation of an unknown Id -> NoSuchInvalidation"
expect_error NoSuchDistribution create-invalidation --distribution-id ENOSUCHDIST0001 --paths /a
ok "create-invalidation on an unknown distribution -> NoSuchDistribution"
expect_error NoSuchDistribution list-invalidations --distribution-id ENOSUCHDIST0001
ok "list-invalidations on an unknown distribution -> NoSuchDistribution"
expect_error InvalidArgument create-invalidation --distribution-id "$DIST" --paths no-leading-slash
ok "create-invalidation of a path without a leading / -> InvalidArgument"
expect_error InvalidationBatchAlreadyExists create-invalidation --distribution-id "$DIST" \
	--invalidation-batch '{"Paths":{"Quantity":1,"Items":["/other"]},"CallerReference":"'$ref'"}'
ok "create-invalidation reusing a CallerReference with other paths -> InvalidationBatchAlreadyExists"
expect_error InconsistentQuantities create-invalidation --distribution-id "$DIST" \
	--invalidation-batch '{"Paths":{"Quantity":3,"Items":["/q1","/q2"]},"CallerReference":"compat-awscli-qty-'$$'"}'
ok "create-invalidation with Quantity 3 and 2 Items -> InconsistentQuantities"

done_ok
