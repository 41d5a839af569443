package cloudfront

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/openfront/openfront/internal/keyvalue"
	"github.com/openfront/openfront/internal/resource"
	"github.com/openfront/openfront/internal/sigv4"
)

// The cloudfront-keyvaluestore service (API version 2022-07-26,
// REST-JSON): the data plane of KeyValueStores, on the API's listener
// under /key-value-stores/{KvsARN}. The SDKs sign it with SigV4A for the
// signing name cloudfront-keyvaluestore; its errors are JSON with the
// x-amzn-ErrorType header.

// kvsPrefix starts every data-plane path.
const kvsPrefix = "/key-value-stores/"

// isKVSData reports whether a request's path is the data plane's.
func isKVSData(path string) bool { return strings.HasPrefix(path, kvsPrefix) }

const (
	// defaultListKeys and maxListKeys are ListKeys' MaxResults default
	// and maximum (the API model's).
	defaultListKeys = 10
	maxListKeys     = 50
)

func (h *Handler) routeKVSData(m *http.ServeMux) {
	const store = "/key-value-stores/{KvsARN}"
	h.route(m, "GET "+store, OpKVSDescribeKeyValueStore, h.kvsDescribe)
	h.route(m, "GET "+store+"/keys", OpKVSListKeys, h.kvsListKeys)
	h.route(m, "POST "+store+"/keys", OpKVSUpdateKeys, h.kvsUpdateKeys)
	h.route(m, "GET "+store+"/keys/{Key}", OpKVSGetKey, h.kvsGetKey)
	h.route(m, "PUT "+store+"/keys/{Key}", OpKVSPutKey, h.kvsPutKey)
	h.route(m, "DELETE "+store+"/keys/{Key}", OpKVSDeleteKey, h.kvsDeleteKey)
	m.HandleFunc(kvsPrefix, func(w http.ResponseWriter, r *http.Request) {
		writeKVSError(w, requestID(r), &keyvalue.Error{Status: http.StatusNotFound, Type: "UnknownOperationException",
			Message: "No cloudfront-keyvaluestore operation answers " + r.Method + " " + r.URL.Path + "."})
	})
}

// writeKVSError writes a data-plane error as the SDKs parse it.
func writeKVSError(w http.ResponseWriter, reqID string, e *keyvalue.Error) {
	hd := w.Header()
	hd.Set("x-amzn-ErrorType", e.Type)
	hd.Set("x-amzn-RequestId", reqID)
	b, _ := json.Marshal(struct {
		Message string `json:"Message"`
	}{e.Message})
	hd.Set("Content-Type", "application/json")
	hd.Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(e.Status)
	w.Write(b)
}

// kvsFail writes err as the data plane's error.
func (h *Handler) kvsFail(w http.ResponseWriter, r *http.Request, err error) {
	writeKVSError(w, requestID(r), h.kvsError(requestID(r), err))
}

// kvsError maps an error to the data plane's.
func (h *Handler) kvsError(reqID string, err error) *keyvalue.Error {
	var ke *keyvalue.Error
	var re *resource.Error
	var se *sigv4.Error
	var ae *apiError
	switch {
	case errors.As(err, &ke):
		return ke
	case errors.As(err, &se):
		typ := se.Code
		switch se.Code {
		case "SignatureDoesNotMatch", "InvalidClientTokenId", "MissingAuthenticationToken", "IncompleteSignature":
			typ = se.Code + "Exception"
			if se.Code == "SignatureDoesNotMatch" {
				typ = "InvalidSignatureException"
			}
			if se.Code == "InvalidClientTokenId" {
				typ = "UnrecognizedClientException"
			}
		}
		return &keyvalue.Error{Status: se.Status, Type: typ, Message: se.Message}
	case errors.As(err, &re):
		switch re.Code {
		case resource.CodePreconditionFailed:
			return keyvalue.Conflict()
		case resource.CodeInvalidIfMatchVersion:
			return &keyvalue.Error{Status: 400, Type: "ValidationException", Message: "The If-Match header is required: the ETag of the key value store, from DescribeKeyValueStore."}
		case "EntityNotFound":
			return keyvalue.NotFound("The key value store")
		}
		return &keyvalue.Error{Status: 400, Type: "ValidationException", Message: re.Message}
	case errors.As(err, &ae):
		if ae.Status == http.StatusForbidden {
			return &keyvalue.Error{Status: 403, Type: "AccessDeniedException", Message: ae.Message}
		}
		if ae.Status == http.StatusNotFound {
			return keyvalue.NotFound("The key value store")
		}
		if ae.Status < 500 {
			return &keyvalue.Error{Status: 400, Type: "ValidationException", Message: ae.Message}
		}
	}
	if errors.Is(err, context.Canceled) {
		return &keyvalue.Error{Status: 500, Type: "InternalServerException", Message: "The request was canceled."}
	}
	h.log.Error("internal error", "request_id", reqID, "err", err)
	return &keyvalue.Error{Status: 500, Type: "InternalServerException", Message: "We encountered an internal error. Please try again."}
}

func writeKVSJSON(w http.ResponseWriter, etag string, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // plain structs always marshal
	}
	hd := w.Header()
	if etag != "" {
		hd.Set("ETag", etag)
	}
	hd.Set("Content-Type", "application/json")
	hd.Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(http.StatusOK)
	w.Write(b)
}

// kvsStore finds the store the request's KvsARN names and checks that
// the signing key may act on it.
func (h *Handler) kvsStore(r *http.Request, action string) (resource.Resource, *keyvalue.Store, error) {
	res, err := h.kvsRecord(r, action)
	if err != nil {
		return resource.Resource{}, nil, err
	}
	s, err := keyvalue.Decode(res.Config)
	return res, s, err
}

// kvsRecord is kvsStore without decoding the store.
func (h *Handler) kvsRecord(r *http.Request, action string) (resource.Resource, error) {
	arn := r.PathValue("KvsARN")
	id, ok := keyvalue.IDOfARN(arn)
	if !ok || keyvalue.ARN(h.account, id) != arn {
		return resource.Resource{}, keyvalue.NotFound("The key value store")
	}
	if err := h.authorizeAccount(r, action, arn); err != nil {
		return resource.Resource{}, err
	}
	return h.kvsService().Get(r.Context(), id)
}

// kvsCounts are the store's figures every write answers with.
type kvsCounts struct {
	ItemCount        int   `json:"ItemCount"`
	TotalSizeInBytes int64 `json:"TotalSizeInBytes"`
}

func counts(s *keyvalue.Store) kvsCounts { return kvsCounts{len(s.Keys), s.Size()} }

func epochSeconds(r *resource.Resource, s *keyvalue.Store) (created, modified float64) {
	return float64(s.Created.UnixMilli()) / 1000, float64(r.LastModified.UnixMilli()) / 1000
}

func (h *Handler) kvsDescribe(w http.ResponseWriter, r *http.Request) {
	res, s, err := h.kvsStore(r, "DescribeKeyValueStore")
	if err != nil {
		h.kvsFail(w, r, err)
		return
	}
	created, modified := epochSeconds(&res, s)
	writeKVSJSON(w, res.ETag, struct {
		kvsCounts
		KvsARN       string  `json:"KvsARN"`
		Created      float64 `json:"Created"`
		LastModified float64 `json:"LastModified"`
		Status       string  `json:"Status"`
	}{counts(s), keyvalue.ARN(h.account, res.ID), created, modified, "READY"})
}

func (h *Handler) kvsGetKey(w http.ResponseWriter, r *http.Request) {
	_, s, err := h.kvsStore(r, "GetKey")
	if err != nil {
		h.kvsFail(w, r, err)
		return
	}
	key := r.PathValue("Key")
	v, ok := s.Keys[key]
	if !ok {
		h.kvsFail(w, r, keyvalue.NotFound("The key"))
		return
	}
	writeKVSJSON(w, "", struct {
		Key   string `json:"Key"`
		Value string `json:"Value"`
		kvsCounts
	}{key, v, counts(s)})
}

type kvsPair struct {
	Key   string `json:"Key"`
	Value string `json:"Value"`
}

func (h *Handler) kvsListKeys(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	max := defaultListKeys
	if q.Has("MaxResults") {
		n, err := strconv.Atoi(q.Get("MaxResults"))
		if err != nil || n < 1 || n > maxListKeys {
			h.kvsFail(w, r, &keyvalue.Error{Status: 400, Type: "ValidationException", Message: "MaxResults must be an integer from 1 to " + strconv.Itoa(maxListKeys) + "."})
			return
		}
		max = n
	}
	// NextToken is the last key of the page before, encoded.
	after := ""
	if t := q.Get("NextToken"); t != "" {
		b, err := base64.RawURLEncoding.DecodeString(t)
		if err != nil || len(b) == 0 || len(b) > keyvalue.MaxKeyBytes {
			h.kvsFail(w, r, &keyvalue.Error{Status: 400, Type: "ValidationException", Message: "The NextToken is not valid."})
			return
		}
		after = string(b)
	}
	_, s, err := h.kvsStore(r, "ListKeys")
	if err != nil {
		h.kvsFail(w, r, err)
		return
	}
	out := struct {
		NextToken string    `json:"NextToken,omitempty"`
		Items     []kvsPair `json:"Items"`
	}{Items: []kvsPair{}}
	keys := s.SortedKeys()
	for _, k := range keys {
		if after != "" && k <= after {
			continue
		}
		if len(out.Items) == max {
			out.NextToken = base64.RawURLEncoding.EncodeToString([]byte(out.Items[max-1].Key))
			break
		}
		out.Items = append(out.Items, kvsPair{k, s.Keys[k]})
	}
	writeKVSJSON(w, "", out)
}

// kvsWrite applies puts and deletes to the store in one
// compare-and-swap of its record, under If-Match.
func (h *Handler) kvsWrite(w http.ResponseWriter, r *http.Request, action string, puts []keyvalue.Pair, deletes []string, strictDelete bool) {
	res, err := h.kvsRecord(r, action)
	if err != nil {
		h.kvsFail(w, r, err)
		return
	}
	if r.Header.Get("If-Match") == "" {
		h.kvsFail(w, r, &keyvalue.Error{Status: 400, Type: "ValidationException", Message: "The If-Match header is required: the ETag of the key value store, from DescribeKeyValueStore."})
		return
	}
	var s *keyvalue.Store
	res, err = h.kvsService().Update(r.Context(), res.ID, r.Header.Get("If-Match"), func(old *resource.Resource) error {
		st, err := keyvalue.Decode(old.Config)
		if err != nil {
			return err
		}
		if err := st.Apply(puts, deletes, strictDelete); err != nil {
			return err
		}
		old.Config = st.Encode()
		s = st
		return nil
	})
	if err != nil {
		h.kvsFail(w, r, err)
		return
	}
	writeKVSJSON(w, res.ETag, counts(s))
}

// decodeKVSBody decodes a JSON request body strictly into v.
func decodeKVSBody(b []byte, v any) error {
	d := json.NewDecoder(bytes.NewReader(b))
	d.DisallowUnknownFields()
	if err := d.Decode(v); err != nil {
		return &keyvalue.Error{Status: 400, Type: "SerializationException", Message: "The request body is not valid JSON for this operation: " + err.Error()}
	}
	return nil
}

// maxPutKeyBody bounds PutKey's body: a value is at most 1 KiB, 6 KiB
// JSON-escaped.
const maxPutKeyBody = 16 << 10

func (h *Handler) kvsPutKey(w http.ResponseWriter, r *http.Request) {
	if len(body(r)) > maxPutKeyBody {
		h.kvsFail(w, r, &keyvalue.Error{Status: 400, Type: "ValidationException", Message: "The PutKey request is " + strconv.Itoa(len(body(r))) + " bytes; a value is at most " + strconv.Itoa(keyvalue.MaxValueBytes) + " bytes."})
		return
	}
	var in struct {
		Value *string `json:"Value"`
	}
	if err := decodeKVSBody(body(r), &in); err != nil {
		h.kvsFail(w, r, err)
		return
	}
	if in.Value == nil {
		h.kvsFail(w, r, &keyvalue.Error{Status: 400, Type: "ValidationException", Message: "The Value is required."})
		return
	}
	h.kvsWrite(w, r, "PutKey", []keyvalue.Pair{{Key: r.PathValue("Key"), Value: *in.Value}}, nil, false)
}

func (h *Handler) kvsDeleteKey(w http.ResponseWriter, r *http.Request) {
	h.kvsWrite(w, r, "DeleteKey", nil, []string{r.PathValue("Key")}, true)
}

func (h *Handler) kvsUpdateKeys(w http.ResponseWriter, r *http.Request) {
	if len(body(r)) > keyvalue.MaxUpdateBytes {
		h.kvsFail(w, r, &keyvalue.Error{Status: 402, Type: "ServiceQuotaExceededException", Message: "The UpdateKeys request is " + strconv.Itoa(len(body(r))) + " bytes; the maximum is " + strconv.Itoa(keyvalue.MaxUpdateBytes) + "."})
		return
	}
	var in struct {
		Puts    []kvsPair `json:"Puts"`
		Deletes []struct {
			Key string `json:"Key"`
		} `json:"Deletes"`
	}
	if err := decodeKVSBody(body(r), &in); err != nil {
		h.kvsFail(w, r, err)
		return
	}
	if n := len(in.Puts) + len(in.Deletes); n > keyvalue.MaxUpdateKeys {
		h.kvsFail(w, r, &keyvalue.Error{Status: 402, Type: "ServiceQuotaExceededException", Message: "The UpdateKeys request has " + strconv.Itoa(n) + " keys; the maximum is " + strconv.Itoa(keyvalue.MaxUpdateKeys) + "."})
		return
	}
	puts := make([]keyvalue.Pair, len(in.Puts))
	for i, p := range in.Puts {
		puts[i] = keyvalue.Pair{Key: p.Key, Value: p.Value}
	}
	deletes := make([]string, len(in.Deletes))
	for i, d := range in.Deletes {
		deletes[i] = d.Key
	}
	h.kvsWrite(w, r, "UpdateKeys", puts, deletes, false)
}
