package e2e

import (
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudfront"
	"github.com/aws/aws-sdk-go-v2/service/cloudfront/types"
)

// aws-sdk-go-v2 through CloudFront Functions: create, describe both
// stages, get the code, update, publish, list, test and delete, every
// error by its typed error, and a distribution associating the function
// (FunctionInUse, InvalidFunctionAssociation). The same runs in boto3,
// the AWS CLI and the JS SDK under make compat (compat/*functions*).

const sdkFunctionCode = `function handler(event) {
	var request = event.request;
	console.log("uri " + request.uri);
	request.headers["x-fn"] = {value: "1"};
	return request;
}`

func TestSDKGoFunctions(t *testing.T) {
	s := startServer(t, options{args: []string{"--deploy-delay", "0s"}})
	c := s.client("", "")
	cfg := func(comment string) *types.FunctionConfig {
		return &types.FunctionConfig{Comment: aws.String(comment), Runtime: types.FunctionRuntimeCloudfrontJs20}
	}

	cr, err := c.CreateFunction(ctx(t), &cloudfront.CreateFunctionInput{Name: aws.String("sdk-go-fn"), FunctionConfig: cfg("first"), FunctionCode: []byte(sdkFunctionCode)})
	if err != nil {
		t.Fatal(err)
	}
	devTag := aws.ToString(cr.ETag)
	sum := cr.FunctionSummary
	arn := aws.ToString(sum.FunctionMetadata.FunctionARN)
	if devTag == "" || arn != "arn:aws:cloudfront::000000000000:function/sdk-go-fn" || aws.ToString(sum.Status) != "UNPUBLISHED" ||
		sum.FunctionMetadata.Stage != types.FunctionStageDevelopment || sum.FunctionMetadata.CreatedTime == nil || aws.ToString(sum.FunctionConfig.Comment) != "first" {
		t.Fatalf("create: ETag %q %+v %+v", devTag, sum, sum.FunctionMetadata)
	}
	if !strings.HasSuffix(aws.ToString(cr.Location), "/2020-05-31/function/"+arn) {
		t.Errorf("Location %q", aws.ToString(cr.Location))
	}

	_, err = c.CreateFunction(ctx(t), &cloudfront.CreateFunctionInput{Name: aws.String("sdk-go-fn"), FunctionConfig: cfg("again"), FunctionCode: []byte(sdkFunctionCode)})
	var exists *types.FunctionAlreadyExists
	if !errors.As(err, &exists) {
		t.Errorf("second create: %v, want FunctionAlreadyExists", err)
	}
	expectErr(t, err, "FunctionAlreadyExists", http.StatusConflict)
	_, err = c.CreateFunction(ctx(t), &cloudfront.CreateFunctionInput{Name: aws.String("too-big"), FunctionConfig: cfg(""), FunctionCode: []byte(strings.Repeat("/", 10241))})
	var tooBig *types.FunctionSizeLimitExceeded
	if !errors.As(err, &tooBig) {
		t.Errorf("10,241 bytes of code: %v, want FunctionSizeLimitExceeded", err)
	}
	_, err = c.CreateFunction(ctx(t), &cloudfront.CreateFunctionInput{Name: aws.String("syntax"), FunctionConfig: cfg(""), FunctionCode: []byte("function handler(e) {")})
	expectErr(t, err, "InvalidArgument", http.StatusBadRequest)
	_, err = c.CreateFunction(ctx(t), &cloudfront.CreateFunctionInput{Name: aws.String("bad.name"), FunctionConfig: cfg(""), FunctionCode: []byte(sdkFunctionCode)})
	expectErr(t, err, "InvalidArgument", http.StatusBadRequest)

	g, err := c.GetFunction(ctx(t), &cloudfront.GetFunctionInput{Name: aws.String("sdk-go-fn")})
	if err != nil || string(g.FunctionCode) != sdkFunctionCode || aws.ToString(g.ETag) != devTag || aws.ToString(g.ContentType) != "application/octet-stream" {
		t.Fatalf("get: %v %q %q", err, aws.ToString(g.ETag), aws.ToString(g.ContentType))
	}
	_, err = c.DescribeFunction(ctx(t), &cloudfront.DescribeFunctionInput{Name: aws.String("sdk-go-fn"), Stage: types.FunctionStageLive})
	var noSuch *types.NoSuchFunctionExists
	if !errors.As(err, &noSuch) {
		t.Fatalf("describe LIVE before publish: %v, want NoSuchFunctionExists", err)
	}

	// A distribution may associate only a published function.
	dcfg := minimalConfig("fn-dist")
	dcfg.DefaultCacheBehavior.FunctionAssociations = &types.FunctionAssociations{Quantity: aws.Int32(1), Items: []types.FunctionAssociation{
		{EventType: types.EventTypeViewerRequest, FunctionARN: aws.String(arn)}}}
	_, err = createDist(t, c, dcfg)
	var invalidAssoc *types.InvalidFunctionAssociation
	if !errors.As(err, &invalidAssoc) {
		t.Fatalf("associating an unpublished function: %v, want InvalidFunctionAssociation", err)
	}

	_, err = c.UpdateFunction(ctx(t), &cloudfront.UpdateFunctionInput{Name: aws.String("sdk-go-fn"), IfMatch: aws.String(devTag + "X"), FunctionConfig: cfg("second"), FunctionCode: []byte(sdkFunctionCode)})
	expectErr(t, err, "PreconditionFailed", http.StatusPreconditionFailed)
	up, err := c.UpdateFunction(ctx(t), &cloudfront.UpdateFunctionInput{Name: aws.String("sdk-go-fn"), IfMatch: aws.String(devTag), FunctionConfig: cfg("second"), FunctionCode: []byte(sdkFunctionCode + "\n")})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(up.ETag) == "" || aws.ToString(up.ETag) == devTag {
		t.Fatalf("update: ETag %q (was %q): the SDK reads the ETtag header", aws.ToString(up.ETag), devTag)
	}
	devTag = aws.ToString(up.ETag)

	_, err = c.PublishFunction(ctx(t), &cloudfront.PublishFunctionInput{Name: aws.String("sdk-go-fn"), IfMatch: aws.String("EWRONG")})
	expectErr(t, err, "PreconditionFailed", http.StatusPreconditionFailed)
	pub, err := c.PublishFunction(ctx(t), &cloudfront.PublishFunctionInput{Name: aws.String("sdk-go-fn"), IfMatch: aws.String(devTag)})
	if err != nil {
		t.Fatal(err)
	}
	if pub.FunctionSummary.FunctionMetadata.Stage != types.FunctionStageLive || aws.ToString(pub.FunctionSummary.Status) != "UNASSOCIATED" {
		t.Errorf("publish: %+v", pub.FunctionSummary)
	}
	live, err := c.DescribeFunction(ctx(t), &cloudfront.DescribeFunctionInput{Name: aws.String("sdk-go-fn"), Stage: types.FunctionStageLive})
	if err != nil || aws.ToString(live.ETag) == "" || aws.ToString(live.FunctionSummary.FunctionConfig.Comment) != "second" {
		t.Fatalf("describe LIVE: %v", err)
	}
	lg, err := c.GetFunction(ctx(t), &cloudfront.GetFunctionInput{Name: aws.String("sdk-go-fn"), Stage: types.FunctionStageLive})
	if err != nil || string(lg.FunctionCode) != sdkFunctionCode+"\n" || aws.ToString(lg.ETag) != aws.ToString(live.ETag) {
		t.Fatalf("get LIVE: %v", err)
	}

	list, err := c.ListFunctions(ctx(t), &cloudfront.ListFunctionsInput{Stage: types.FunctionStageLive})
	if err != nil || aws.ToInt32(list.FunctionList.Quantity) != 1 || aws.ToString(list.FunctionList.Items[0].Name) != "sdk-go-fn" {
		t.Fatalf("list LIVE: %v %+v", err, list)
	}
	list, err = c.ListFunctions(ctx(t), &cloudfront.ListFunctionsInput{})
	if err != nil || aws.ToInt32(list.FunctionList.Quantity) != 2 {
		t.Fatalf("list: %v %+v", err, list)
	}

	// TestFunction runs the code: the returned request, the logs.
	event := `{"version":"1.0","context":{"eventType":"viewer-request"},"viewer":{"ip":"198.51.100.7"},` +
		`"request":{"method":"GET","uri":"/index.html","querystring":{},"headers":{"host":{"value":"example.com"}},"cookies":{}}}`
	_, err = c.TestFunction(ctx(t), &cloudfront.TestFunctionInput{Name: aws.String("sdk-go-fn"), IfMatch: aws.String("EWRONG"), EventObject: []byte(event)})
	expectErr(t, err, "InvalidIfMatchVersion", http.StatusBadRequest)
	tr, err := c.TestFunction(ctx(t), &cloudfront.TestFunctionInput{Name: aws.String("sdk-go-fn"), IfMatch: live.ETag, Stage: types.FunctionStageLive, EventObject: []byte(event)})
	if err != nil {
		t.Fatal(err)
	}
	res := tr.TestResult
	if aws.ToString(res.FunctionErrorMessage) != "" || !strings.Contains(aws.ToString(res.FunctionOutput), `"x-fn":{"value":"1"}`) ||
		len(res.FunctionExecutionLogs) != 1 || res.FunctionExecutionLogs[0] != "uri /index.html" || aws.ToString(res.ComputeUtilization) == "" {
		t.Errorf("test: error %q output %q logs %q utilization %q", aws.ToString(res.FunctionErrorMessage), aws.ToString(res.FunctionOutput),
			res.FunctionExecutionLogs, aws.ToString(res.ComputeUtilization))
	}
	t.Logf("TestFunction: ComputeUtilization %s", aws.ToString(res.ComputeUtilization))

	// Associated: DEPLOYED, and not deletable; the association round-trips.
	bad := minimalConfig("fn-dist-bad")
	bad.DefaultCacheBehavior.FunctionAssociations = &types.FunctionAssociations{Quantity: aws.Int32(1), Items: []types.FunctionAssociation{
		{EventType: types.EventTypeOriginRequest, FunctionARN: aws.String(arn)}}}
	_, err = createDist(t, c, bad)
	expectErr(t, err, "InvalidFunctionAssociation", http.StatusBadRequest)
	d, err := createDist(t, c, dcfg)
	if err != nil {
		t.Fatalf("associating the published function: %v", err)
	}
	dc, err := c.GetDistributionConfig(ctx(t), &cloudfront.GetDistributionConfigInput{Id: d.Distribution.Id})
	if err != nil {
		t.Fatal(err)
	}
	fa := dc.DistributionConfig.DefaultCacheBehavior.FunctionAssociations
	if aws.ToInt32(fa.Quantity) != 1 || aws.ToString(fa.Items[0].FunctionARN) != arn || fa.Items[0].EventType != types.EventTypeViewerRequest {
		t.Errorf("GetDistributionConfig: FunctionAssociations %+v", fa)
	}
	live, err = c.DescribeFunction(ctx(t), &cloudfront.DescribeFunctionInput{Name: aws.String("sdk-go-fn"), Stage: types.FunctionStageLive})
	if err != nil || aws.ToString(live.FunctionSummary.Status) != "DEPLOYED" {
		t.Errorf("describe LIVE while associated: %v %q", err, aws.ToString(live.FunctionSummary.Status))
	}
	err = deleteFunction(t, c, "sdk-go-fn", devTag)
	var inUse *types.FunctionInUse
	if !errors.As(err, &inUse) {
		t.Fatalf("deleting an associated function: %v, want FunctionInUse", err)
	}
	expectErr(t, err, "FunctionInUse", http.StatusConflict)

	// Disassociated, it can be deleted.
	dcfg.DefaultCacheBehavior.FunctionAssociations = &types.FunctionAssociations{Quantity: aws.Int32(0)}
	dcfg.CallerReference = dc.DistributionConfig.CallerReference
	if _, err := c.UpdateDistribution(ctx(t), &cloudfront.UpdateDistributionInput{Id: d.Distribution.Id, IfMatch: dc.ETag, DistributionConfig: dcfg}); err != nil {
		t.Fatal(err)
	}
	expectErr(t, deleteFunction(t, c, "sdk-go-fn", aws.ToString(live.ETag)), "PreconditionFailed", http.StatusPreconditionFailed)
	if err := deleteFunction(t, c, "sdk-go-fn", devTag); err != nil {
		t.Fatal(err)
	}
	_, err = c.GetFunction(ctx(t), &cloudfront.GetFunctionInput{Name: aws.String("sdk-go-fn")})
	if !errors.As(err, &noSuch) {
		t.Errorf("get after delete: %v", err)
	}
	expectErr(t, err, "NoSuchFunctionExists", http.StatusNotFound)
}

func deleteFunction(t *testing.T, c *cloudfront.Client, name, etag string) error {
	_, err := c.DeleteFunction(ctx(t), &cloudfront.DeleteFunctionInput{Name: aws.String(name), IfMatch: ifMatch(etag)})
	return err
}
