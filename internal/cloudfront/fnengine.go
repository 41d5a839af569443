package cloudfront

import (
	"context"
	"errors"

	"github.com/openfront/openfront/internal/function"
	"github.com/openfront/openfront/internal/function/runtime"
	"github.com/openfront/openfront/internal/keyvalue"
	"github.com/openfront/openfront/internal/resource"
)

// Engine is the FunctionRuntime of internal/function/runtime: the engine
// edges run functions on, so that the API refuses what edges could not
// run and TestFunction reports what an edge would do.
type Engine struct {
	// KeyValues is what cf.kvs() reads under TestFunction; nil: no store
	// has keys.
	KeyValues runtime.KeyValues
}

var _ FunctionRuntime = Engine{}

// Compile implements FunctionRuntime: the error is the engine's
// *runtime.CompileError, whose message CloudFront's InvalidArgument
// carries.
func (e Engine) Compile(rt string, code []byte, kvs []string) error {
	_, err := runtime.CompileWith(rt, code, runtime.Options{KeyValueStoreARNs: kvs})
	if errors.Is(err, runtime.ErrTooLarge) {
		return &function.Error{Code: function.CodeFunctionSizeLimitExceeded, Message: err.Error()}
	}
	return err
}

// Test implements FunctionRuntime: one run of the code on the event, with
// the engine's default budget.
func (e Engine) Test(ctx context.Context, rt string, code []byte, kvs []string, event []byte) (FunctionTestResult, error) {
	p, err := runtime.CompileCode(&function.Code{Runtime: rt, Code: code, KeyValueStoreARNs: kvs}, 0)
	if err != nil {
		return FunctionTestResult{}, err
	}
	res := p.Run(ctx, event, e.KeyValues)
	return FunctionTestResult{Output: res.Output, Logs: res.Logs, Error: res.Error, ComputeUtilization: res.ComputeUtilization}, nil
}

// StoredKeyValues is what cf.kvs() reads under TestFunction: the
// KeyValueStores as the control plane stores them (edges read their own
// copy, delivered through the fleet).
type StoredKeyValues struct{ Resources ResourceLookup }

var _ runtime.KeyValues = StoredKeyValues{}

// errNoKeyValueStore is Get's error for an ARN naming no stored store.
var errNoKeyValueStore = errors.New("no such key value store")

// Get implements runtime.KeyValues.
func (k StoredKeyValues) Get(ctx context.Context, storeARN, key string) (string, bool, error) {
	id, ok := keyvalue.IDOfARN(storeARN)
	if !ok || k.Resources == nil {
		return "", false, errNoKeyValueStore
	}
	r, err := k.Resources.GetResource(ctx, resource.KeyValueStore, id)
	if err != nil {
		return "", false, errNoKeyValueStore
	}
	s, err := keyvalue.Decode(r.Config)
	if err != nil {
		return "", false, err
	}
	v, found := s.Keys[key]
	return v, found, nil
}
