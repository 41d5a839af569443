package cloudfront

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/openfront/openfront/internal/cloudfront/xmlmodel"
	"github.com/openfront/openfront/internal/keyvalue"
	"github.com/openfront/openfront/internal/resource"
)

// KeyValueStores: the control plane (CreateKeyValueStore, ... in the
// CloudFront API, REST-XML, by the store's Name) here, the data plane
// (the cloudfront-keyvaluestore service, REST-JSON, by the store's ARN)
// in kvsdata.go. Both act on one resource.KeyValueStore record per
// store whose Config is the keyvalue.Store, keys included. As in
// CloudFront, each plane has its own ETag: the control plane's is
// keyvalue.Store.ETag, changed by UpdateKeyValueStore only; the data
// plane's is the record's, changed by every write. A control-plane write
// checks If-Match against the former, then writes the record under the
// record's ETag it read (retrying when a key write came between).

// KeyValueStoreRules are the rules resource.Service applies to
// KeyValueStores: CloudFront's error codes (the generic Entity* ones),
// UUID Ids and the account's quota of keyvalue.MaxStores.
func KeyValueStoreRules() resource.Rules {
	return resource.Rules{
		Kind: resource.KeyValueStore, Max: keyvalue.MaxStores, NewID: resource.UUID,
		NoSuch: "EntityNotFound", NoSuchMessage: "The specified key value store does not exist.",
		AlreadyExists: "EntityAlreadyExists", AlreadyExistsMessage: "A key value store with this name already exists.",
		InUse: "CannotDeleteEntityWhileInUse", InUseMessage: "The key value store is associated with one or more functions and cannot be deleted.",
		TooMany: "EntityLimitExceeded", TooManyMessage: "You have reached the maximum number of key value stores for this AWS account.",
	}
}

// routeKeyValueStores registers the control plane's operations when the
// handler has a KeyValueStore service.
func (h *Handler) routeKeyValueStores(m *http.ServeMux) {
	if h.resources[resource.KeyValueStore] == nil {
		return
	}
	const base = "/2020-05-31/key-value-store"
	h.route(m, "POST "+base, OpCreateKeyValueStore, h.createKeyValueStore)
	h.route(m, "GET "+base, OpListKeyValueStores, h.listKeyValueStores)
	h.route(m, "GET "+base+"/{Name}", OpDescribeKeyValueStore, h.describeKeyValueStore)
	h.route(m, "PUT "+base+"/{Name}", OpUpdateKeyValueStore, h.updateKeyValueStore)
	h.route(m, "DELETE "+base+"/{Name}", OpDeleteKeyValueStore, h.deleteKeyValueStore)
	m.HandleFunc(base, methodNotAllowed("GET", "POST"))
	m.HandleFunc(base+"/{Name}", methodNotAllowed("GET", "PUT", "DELETE"))
	h.routeKVSData(m)
}

func (h *Handler) kvsService() *resource.Service { return h.resources[resource.KeyValueStore] }

// authorizeAccount checks that the signing key may act on account-wide
// resources (a key limited to some distributions may not).
func (h *Handler) authorizeAccount(r *http.Request, action, arn string) error {
	keyID := info(r).keyID
	if keyID == "" || len(h.keys[keyID].Distributions) == 0 {
		return nil
	}
	return &apiError{http.StatusForbidden, "AccessDenied",
		"User: arn:aws:iam::" + h.account + ":user/" + keyID + " is not authorized to perform: cloudfront:" + action + " on resource: " + arn}
}

// storeByName finds the store with the name; EntityNotFound when none.
// The store keeps records by Id, and listing them copies every store
// (up to 50 of 5 MB): the Id of a name found once is remembered
// (kvsNames), and a remembered Id is checked by reading that store alone.
// An unknown name still lists them all.
func (h *Handler) storeByName(ctx context.Context, name string) (resource.Resource, *keyvalue.Store, error) {
	h.kvsMu.Lock()
	id, ok := h.kvsNames[name]
	h.kvsMu.Unlock()
	if ok {
		r, err := h.kvsService().Get(ctx, id)
		if err == nil && r.Name == name {
			s, err := keyvalue.Decode(r.Config)
			return r, s, err
		}
		// Deleted (perhaps through another replica): look again.
	}
	if !keyvalue.ValidName(name) {
		return resource.Resource{}, nil, &apiError{http.StatusNotFound, "EntityNotFound", "The specified key value store does not exist."}
	}
	all, err := h.kvsService().List(ctx)
	if err != nil {
		return resource.Resource{}, nil, err
	}
	for _, r := range all {
		if r.Name == name {
			h.kvsMu.Lock()
			if h.kvsNames == nil || len(h.kvsNames) >= maxKVSNames {
				h.kvsNames = map[string]string{}
			}
			h.kvsNames[name] = r.ID
			h.kvsMu.Unlock()
			s, err := keyvalue.Decode(r.Config)
			return r, s, err
		}
	}
	return resource.Resource{}, nil, &apiError{http.StatusNotFound, "EntityNotFound", "The specified key value store does not exist."}
}

// kvsElement is a store's KeyValueStore document. A store is READY once
// created: creation is one durable write, and the data plane takes
// writes from then on.
func (h *Handler) kvsElement(r *resource.Resource, s *keyvalue.Store) *xmlmodel.Element {
	n := xmlmodel.New
	return xmlmodel.NewParent("KeyValueStore",
		n("Name", r.Name), n("Id", r.ID), n("Comment", s.Comment), n("ARN", keyvalue.ARN(h.account, r.ID)),
		n("Status", "READY"), n("LastModifiedTime", r.LastModified.UTC().Format(timeFormat)))
}

func (h *Handler) writeKVS(w http.ResponseWriter, status int, r *resource.Resource, s *keyvalue.Store) {
	var b strings.Builder
	b.WriteString(xmlHeader)
	xmlmodel.Encode(&b, h.kvsElement(r, s), true)
	w.Header().Set("ETag", s.ETag)
	writeXML(w, status, b.String())
}

func checkComment(c string) error {
	if len(c) > keyvalue.MaxCommentBytes {
		return invalidArgument("The parameter Comment is too long: " + strconv.Itoa(len(c)) + " bytes, the maximum is " + strconv.Itoa(keyvalue.MaxCommentBytes) + ".")
	}
	return nil
}

func (h *Handler) createKeyValueStore(w http.ResponseWriter, r *http.Request) {
	fail := func(err error) { h.fail(w, r, requestID(r), err) }
	if err := h.authorizeAccount(r, "CreateKeyValueStore", keyvalue.ARN(h.account, "*")); err != nil {
		fail(err)
		return
	}
	if len(body(r)) > MaxResourceDocumentBytes {
		fail(invalidArgument("The CreateKeyValueStoreRequest document is " + strconv.Itoa(len(body(r))) + " bytes long; the maximum is " + strconv.Itoa(MaxResourceDocumentBytes) + "."))
		return
	}
	req, err := xmlmodel.Decode(body(r), "CreateKeyValueStoreRequest", "CreateKeyValueStoreRequest")
	if err != nil {
		fail(err)
		return
	}
	name, _ := req.Value("Name")
	comment, _ := req.Value("Comment")
	switch {
	case name == "":
		fail(required("CreateKeyValueStoreRequest.Name"))
		return
	case !keyvalue.ValidName(name):
		fail(invalidArgument("The parameter Name must be 1 to 64 characters of a-z, A-Z, 0-9, - and _."))
		return
	case req.Child("ImportSource") != nil:
		fail(&apiError{http.StatusBadRequest, "UnsupportedOperation", "openfront does not import key value stores from S3 yet; create the store empty and use UpdateKeys."})
		return
	}
	if err := checkComment(comment); err != nil {
		fail(err)
		return
	}
	s := &keyvalue.Store{Comment: comment, ETag: newControlETag(), Created: time.Now().UTC().Truncate(time.Millisecond)}
	res, _, err := h.kvsService().Create(r.Context(), resource.Resource{Name: name, Config: s.Encode()})
	if err != nil {
		fail(err)
		return
	}
	w.Header().Set("Location", baseURL(r)+"/2020-05-31/key-value-store/"+res.ID)
	h.writeKVS(w, http.StatusCreated, &res, s)
}

func (h *Handler) describeKeyValueStore(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("Name")
	res, s, err := h.storeByName(r.Context(), name)
	if err == nil {
		err = h.authorizeAccount(r, "DescribeKeyValueStore", keyvalue.ARN(h.account, res.ID))
	}
	if err != nil {
		h.fail(w, r, requestID(r), err)
		return
	}
	h.writeKVS(w, http.StatusOK, &res, s)
}

func (h *Handler) updateKeyValueStore(w http.ResponseWriter, r *http.Request) {
	fail := func(err error) { h.fail(w, r, requestID(r), err) }
	if len(body(r)) > MaxResourceDocumentBytes {
		fail(invalidArgument("The UpdateKeyValueStoreRequest document is too long."))
		return
	}
	req, err := xmlmodel.Decode(body(r), "UpdateKeyValueStoreRequest", "UpdateKeyValueStoreRequest")
	if err != nil {
		fail(err)
		return
	}
	comment, ok := req.Value("Comment")
	if !ok {
		fail(required("UpdateKeyValueStoreRequest.Comment"))
		return
	}
	if err := checkComment(comment); err != nil {
		fail(err)
		return
	}
	var res resource.Resource
	var s *keyvalue.Store
	err = h.controlWrite(r, "UpdateKeyValueStore", func(rec resource.Resource) error {
		var err error
		res, err = h.kvsService().Update(r.Context(), rec.ID, rec.ETag, func(old *resource.Resource) error {
			st, err := keyvalue.Decode(old.Config)
			if err != nil {
				return err
			}
			if st.ETag != ifMatch(r) {
				return errControlETag
			}
			st.Comment, st.ETag = comment, newControlETag()
			old.Config = st.Encode()
			s = st
			return nil
		})
		return err
	})
	if err != nil {
		fail(err)
		return
	}
	h.writeKVS(w, http.StatusOK, &res, s)
}

func (h *Handler) deleteKeyValueStore(w http.ResponseWriter, r *http.Request) {
	err := h.controlWrite(r, "DeleteKeyValueStore", func(rec resource.Resource) error {
		return h.kvsService().Delete(r.Context(), rec.ID, rec.ETag)
	})
	if err != nil {
		h.fail(w, r, requestID(r), err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// errControlETag is a control-plane If-Match that is not the store's
// control-plane ETag.
var errControlETag = &apiError{http.StatusPreconditionFailed, resource.CodePreconditionFailed,
	"The precondition given in one or more of the request-header fields evaluated to false."}

// maxControlRetries bounds how often a control-plane write starts again
// because key writes changed the record between its read and its write.
const maxControlRetries = 16

// controlWrite runs write on the record of the store the path names once
// the request's If-Match is the store's control-plane ETag. write must
// write under the record's ETag it is given: a key written meanwhile
// changes it, and write is run again on the new record.
func (h *Handler) controlWrite(r *http.Request, action string, write func(rec resource.Resource) error) error {
	if ifMatch(r) == "" {
		return &apiError{http.StatusBadRequest, resource.CodeInvalidIfMatchVersion, "The If-Match version is missing or not valid for the resource."}
	}
	for range maxControlRetries {
		rec, s, err := h.storeByName(r.Context(), r.PathValue("Name"))
		if err != nil {
			return err
		}
		if err := h.authorizeAccount(r, action, keyvalue.ARN(h.account, rec.ID)); err != nil {
			return err
		}
		if s.ETag != ifMatch(r) {
			return errControlETag
		}
		err = write(rec)
		var re *resource.Error
		if errors.As(err, &re) && re.Code == resource.CodePreconditionFailed {
			continue // the record changed under us: a key write
		}
		return err
	}
	return &apiError{http.StatusServiceUnavailable, "ServiceUnavailable", "The key value store is being written too often to change it now. Retry the request."}
}

// maxKVSNames bounds the names storeByName remembers.
const maxKVSNames = 1024

// newControlETag is a fresh control-plane ETag, as CloudFront's.
func newControlETag() string { return "E" + resource.RandomID(13) }

func (h *Handler) listKeyValueStores(w http.ResponseWriter, r *http.Request) {
	fail := func(err error) { h.fail(w, r, requestID(r), err) }
	if err := h.authorizeAccount(r, "ListKeyValueStores", keyvalue.ARN(h.account, "*")); err != nil {
		fail(err)
		return
	}
	q := r.URL.Query()
	status := q.Get("Status")
	if status != "" && status != "READY" && status != "PROVISIONING" && status != "FAILED" {
		fail(invalidArgument("The parameter Status must be READY, PROVISIONING or FAILED."))
		return
	}
	maxItems, err := parseMaxItems(r)
	if err != nil {
		fail(err)
		return
	}
	marker := q.Get("Marker")
	all, err := h.kvsService().List(r.Context())
	if err != nil {
		fail(err)
		return
	}
	// Ordered by Id; a page starts at the first Id not before the marker.
	list := xmlmodel.NewParent("KeyValueStoreList")
	items := xmlmodel.NewParent("Items")
	next := ""
	for i := range all {
		res := &all[i]
		if res.ID < marker || status != "" && status != "READY" {
			continue
		}
		if len(items.Children) == maxItems {
			next = res.ID
			break
		}
		s, err := keyvalue.Decode(res.Config)
		if err != nil {
			fail(err)
			return
		}
		items.Children = append(items.Children, h.kvsElement(res, s))
	}
	if next != "" {
		list.Children = append(list.Children, xmlmodel.New("NextMarker", next))
	}
	list.Children = append(list.Children, xmlmodel.New("MaxItems", strconv.Itoa(maxItems)), xmlmodel.New("Quantity", strconv.Itoa(len(items.Children))))
	if len(items.Children) > 0 {
		list.Children = append(list.Children, items)
	}
	var b strings.Builder
	b.WriteString(xmlHeader)
	xmlmodel.Encode(&b, list, true)
	writeXML(w, http.StatusOK, b.String())
}
