package xmlmodel

import (
	"errors"
	"strings"
	"testing"
)

// A blob member (a function's code) is base64: kept without the
// whitespace base64 decoders skip, refused when it is not base64.
func TestDecodeBlob(t *testing.T) {
	doc := func(code string) []byte {
		return []byte(`<CreateFunctionRequest xmlns="` + Namespace + `"><Name>f</Name>` +
			`<FunctionConfig><Comment></Comment><Runtime>cloudfront-js-2.0</Runtime></FunctionConfig>` +
			`<FunctionCode>` + code + `</FunctionCode></CreateFunctionRequest>`)
	}
	e, err := Decode(doc("ZnVu\n Y3Rp b24="), "CreateFunctionRequest", "CreateFunctionRequest")
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := e.Value("FunctionCode"); got != "ZnVuY3Rpb24=" {
		t.Errorf("FunctionCode %q, want ZnVuY3Rpb24=", got)
	}
	_, err = Decode(doc("not base64!"), "CreateFunctionRequest", "CreateFunctionRequest")
	var xe *Error
	if !errors.As(err, &xe) || xe.Code != CodeInvalidArgument || !strings.Contains(xe.Message, "CreateFunctionRequest.FunctionCode is not valid base64") {
		t.Errorf("bad base64: %v", err)
	}
}
