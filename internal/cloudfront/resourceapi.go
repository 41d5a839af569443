package cloudfront

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/openfront/openfront/internal/cloudfront/xmlmodel"
	"github.com/openfront/openfront/internal/resource"
)

// kindAPI is one kind of resource as the API speaks of it: its paths,
// document shapes and operations. One generic handler (kindHandler)
// serves Create, Get, GetConfig, Update, Delete and List for every kind.
type kindAPI struct {
	kind resource.Kind
	// base is the collection's path, e.g. /2020-05-31/cache-policy.
	base string
	// arn is the resource type in ARNs (cache-policy, ...).
	arn string
	// name is the kind in operation names (CachePolicy,
	// CloudFrontOriginAccessIdentity, ...), plural in List's.
	name, plural string
	// config, doc and list name the elements and model shapes of the
	// configuration, the resource's document and the list.
	config, doc, list string
	// typed: the list takes Type=managed|custom, its summaries are
	// <Type/> and the whole document, and it has no Marker or
	// IsTruncated (the policies).
	typed bool
	// updateOnConfig: Update is PUT {Id}/config, not PUT {Id}.
	updateOnConfig bool
	// bareList: the list of an untyped kind has no Marker or IsTruncated
	// (public keys, key groups).
	bareList bool
	// refs returns the resources a typed configuration refers to (nil:
	// none), which the store keeps from being deleted under it.
	refs func(typed []byte) []resource.Ref
	// decode checks a decoded, normalized configuration and returns the
	// resource's Name and typed Config; it may fill members into cfg
	// (CloudFront's defaults) before it is stored as sent back. old is
	// the stored resource on Update (inside the store's write), nil on
	// Create. check false skips CloudFront's rules for a custom resource
	// (the managed policies need not meet them).
	decode func(cfg *xmlmodel.Element, old *resource.Resource, check bool) (name string, typed []byte, err error)
	// head returns the document's members between Id and the
	// configuration (LastModifiedTime, S3CanonicalUserId).
	head func(r *resource.Resource) []*xmlmodel.Element
	// summary builds a list item of an untyped kind from the resource
	// and its configuration.
	summary func(r *resource.Resource, cfg *xmlmodel.Element) *xmlmodel.Element
	// ops are the operations: create, get, get config, update, delete,
	// list.
	ops [6]Operation
}

// refsOf is the api's refs of a typed configuration.
func (api *kindAPI) refsOf(typed []byte) []resource.Ref {
	if api.refs == nil {
		return nil
	}
	return api.refs(typed)
}

// kindHandler serves one kind over its service.
type kindHandler struct {
	h   *Handler
	api *kindAPI
	svc *resource.Service
}

// routeKind registers the kind's routes when the handler has a service
// for it; without one its paths answer NotImplemented.
func (h *Handler) routeKind(m *http.ServeMux, api *kindAPI) {
	svc := h.resources[api.kind]
	if svc == nil {
		return
	}
	k := &kindHandler{h: h, api: api, svc: svc}
	b := api.base
	h.route(m, "POST "+b, api.ops[0], k.create)
	h.route(m, "GET "+b, api.ops[5], k.listAll)
	h.route(m, "GET "+b+"/{Id}", api.ops[1], k.get)
	h.route(m, "GET "+b+"/{Id}/config", api.ops[2], k.getConfig)
	h.route(m, "DELETE "+b+"/{Id}", api.ops[4], k.delete)
	m.HandleFunc(b, methodNotAllowed("GET", "POST"))
	if api.updateOnConfig {
		h.route(m, "PUT "+b+"/{Id}/config", api.ops[3], k.update)
		m.HandleFunc(b+"/{Id}", methodNotAllowed("GET", "DELETE"))
		m.HandleFunc(b+"/{Id}/config", methodNotAllowed("GET", "PUT"))
	} else {
		h.route(m, "PUT "+b+"/{Id}", api.ops[3], k.update)
		m.HandleFunc(b+"/{Id}", methodNotAllowed("GET", "PUT", "DELETE"))
		m.HandleFunc(b+"/{Id}/config", methodNotAllowed("GET"))
	}
}

// authorize checks that the signing key may act on account-wide
// resources: a key limited to some distributions may not.
func (k *kindHandler) authorize(r *http.Request, action, id string) error {
	keyID := info(r).keyID
	if keyID == "" || len(k.h.keys[keyID].Distributions) == 0 {
		return nil
	}
	if id == "" {
		id = "*"
	}
	return &apiError{http.StatusForbidden, "AccessDenied",
		"User: arn:aws:iam::" + k.h.account + ":user/" + keyID + " is not authorized to perform: cloudfront:" + action +
			" on resource: arn:aws:cloudfront::" + k.h.account + ":" + k.api.arn + "/" + id}
}

func (k *kindHandler) fail(w http.ResponseWriter, r *http.Request, err error) {
	k.h.fail(w, r, requestID(r), err)
}

// MaxResourceDocumentBytes bounds the configuration document of a policy,
// origin access control or identity. CloudFront's quotas keep real ones
// to a few KiB (a response headers policy of 10 custom headers and a
// CSP of 1,783 characters); the bound keeps a stored resource small.
const MaxResourceDocumentBytes = 64 << 10

// decodeBody parses and normalizes the request's configuration document.
func (k *kindHandler) decodeBody(r *http.Request) (*xmlmodel.Element, error) {
	if b := body(r); len(b) > MaxResourceDocumentBytes {
		return nil, invalidArgument("The " + k.api.config + " document is " + strconv.Itoa(len(b)) + " bytes long; the maximum is " + strconv.Itoa(MaxResourceDocumentBytes) + ".")
	}
	cfg, err := xmlmodel.Decode(body(r), k.api.config, k.api.config)
	if err != nil {
		return nil, err
	}
	xmlmodel.Normalize(cfg, k.api.config)
	return cfg, nil
}

// encodeRaw is the canonical bytes of a normalized configuration (no
// namespace), as stored and sent back.
func encodeRaw(cfg *xmlmodel.Element) []byte {
	var b strings.Builder
	xmlmodel.Encode(&b, cfg, false)
	return []byte(b.String())
}

func (k *kindHandler) create(w http.ResponseWriter, r *http.Request) {
	if err := k.authorize(r, "Create"+k.api.name, ""); err != nil {
		k.fail(w, r, err)
		return
	}
	cfg, err := k.decodeBody(r)
	if err != nil {
		k.fail(w, r, err)
		return
	}
	name, typed, err := k.api.decode(cfg, nil, true)
	if err != nil {
		k.fail(w, r, err)
		return
	}
	xmlmodel.Normalize(cfg, k.api.config) // decode may have filled members
	res, _, err := k.svc.Create(r.Context(), resource.Resource{Name: name, Config: typed, Raw: encodeRaw(cfg), Refs: k.api.refsOf(typed)})
	if err != nil {
		k.fail(w, r, err)
		return
	}
	w.Header().Set("Location", baseURL(r)+k.api.base+"/"+res.ID)
	k.writeDoc(w, http.StatusCreated, &res)
}

func (k *kindHandler) get(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("Id")
	if err := k.authorize(r, "Get"+k.api.name, id); err != nil {
		k.fail(w, r, err)
		return
	}
	res, err := k.svc.Get(r.Context(), id)
	if err != nil {
		k.fail(w, r, err)
		return
	}
	k.writeDoc(w, http.StatusOK, &res)
}

func (k *kindHandler) getConfig(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("Id")
	if err := k.authorize(r, "Get"+k.api.name+"Config", id); err != nil {
		k.fail(w, r, err)
		return
	}
	res, err := k.svc.Get(r.Context(), id)
	if err != nil {
		k.fail(w, r, err)
		return
	}
	var b strings.Builder
	b.WriteString(xmlHeader)
	b.WriteString("<" + k.api.config + ` xmlns="` + Namespace + `"`)
	b.WriteString(strings.TrimPrefix(string(res.Raw), "<"+k.api.config))
	w.Header().Set("ETag", res.ETag)
	writeXML(w, http.StatusOK, b.String())
}

func (k *kindHandler) update(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("Id")
	if err := k.authorize(r, "Update"+k.api.name, id); err != nil {
		k.fail(w, r, err)
		return
	}
	cfg, err := k.decodeBody(r)
	if err != nil {
		k.fail(w, r, err)
		return
	}
	res, err := k.svc.Update(r.Context(), id, ifMatch(r), func(old *resource.Resource) error {
		c := cfg.Clone() // change may run again if the store retries
		name, typed, err := k.api.decode(c, old, true)
		if err != nil {
			return err
		}
		xmlmodel.Normalize(c, k.api.config)
		old.Name, old.Config, old.Raw, old.Refs = name, typed, encodeRaw(c), k.api.refsOf(typed)
		return nil
	})
	if err != nil {
		k.fail(w, r, err)
		return
	}
	k.writeDoc(w, http.StatusOK, &res)
}

func (k *kindHandler) delete(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("Id")
	if err := k.authorize(r, "Delete"+k.api.name, id); err != nil {
		k.fail(w, r, err)
		return
	}
	if err := k.svc.Delete(r.Context(), id, ifMatch(r)); err != nil {
		k.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (k *kindHandler) listAll(w http.ResponseWriter, r *http.Request) {
	if err := k.authorize(r, "List"+k.api.plural, ""); err != nil {
		k.fail(w, r, err)
		return
	}
	q := r.URL.Query()
	typ := q.Get("Type")
	if k.api.typed && typ != "" && typ != "managed" && typ != "custom" {
		k.fail(w, r, invalidArgument("The parameter Type must be managed or custom."))
		return
	}
	maxItems, err := parseMaxItems(r)
	if err != nil {
		k.fail(w, r, err)
		return
	}
	marker := q.Get("Marker")
	all, err := k.svc.List(r.Context())
	if err != nil {
		k.fail(w, r, err)
		return
	}
	// Resources come ordered by Id; a page starts at the first whose Id
	// is not before the marker (the Id of the page's first item).
	var page []resource.Resource
	next := ""
	for _, res := range all {
		if res.ID < marker || typ == "managed" && !res.Managed || typ == "custom" && res.Managed {
			continue
		}
		if len(page) == maxItems {
			next = res.ID
			break
		}
		page = append(page, res)
	}
	n, p := xmlmodel.New, xmlmodel.NewParent
	list := p(k.api.list)
	if !k.api.typed && !k.api.bareList {
		list.Children = append(list.Children, n("Marker", marker))
	}
	if next != "" {
		list.Children = append(list.Children, n("NextMarker", next))
	}
	list.Children = append(list.Children, n("MaxItems", strconv.Itoa(maxItems)))
	if !k.api.typed && !k.api.bareList {
		list.Children = append(list.Children, n("IsTruncated", strconv.FormatBool(next != "")))
	}
	list.Children = append(list.Children, n("Quantity", strconv.Itoa(len(page))))
	if len(page) > 0 {
		items := p("Items")
		for i := range page {
			item, err := k.item(&page[i])
			if err != nil {
				k.fail(w, r, err)
				return
			}
			items.Children = append(items.Children, item)
		}
		list.Children = append(list.Children, items)
	}
	var b strings.Builder
	b.WriteString(xmlHeader)
	xmlmodel.Encode(&b, list, true)
	writeXML(w, http.StatusOK, b.String())
}

// item is a resource's list item: <Type/> and its document for the
// policies, the kind's summary for the others.
func (k *kindHandler) item(res *resource.Resource) (*xmlmodel.Element, error) {
	cfg, err := xmlmodel.Decode(res.Raw, k.api.config, k.api.config)
	if err != nil {
		return nil, err
	}
	if !k.api.typed {
		return k.api.summary(res, cfg), nil
	}
	typ := "custom"
	if res.Managed {
		typ = "managed"
	}
	doc := xmlmodel.NewParent(k.api.doc, xmlmodel.New("Id", res.ID))
	doc.Children = append(doc.Children, k.api.head(res)...)
	doc.Children = append(doc.Children, cfg)
	s := strings.TrimSuffix(k.api.list, "List") + "Summary"
	return xmlmodel.NewParent(s, xmlmodel.New("Type", typ), doc), nil
}

// writeDoc writes the resource's document (Id, the kind's head, the
// configuration as stored) with its ETag.
func (k *kindHandler) writeDoc(w http.ResponseWriter, status int, res *resource.Resource) {
	var b strings.Builder
	b.WriteString(xmlHeader)
	b.WriteString("<" + k.api.doc + ` xmlns="` + Namespace + `"><Id>`)
	escapeTo(&b, res.ID)
	b.WriteString("</Id>")
	for _, e := range k.api.head(res) {
		xmlmodel.Encode(&b, e, false)
	}
	b.Write(res.Raw)
	b.WriteString("</" + k.api.doc + ">")
	w.Header().Set("ETag", res.ETag)
	writeXML(w, status, b.String())
}

// lastModified is the policies' head: LastModifiedTime.
func lastModified(r *resource.Resource) []*xmlmodel.Element {
	return []*xmlmodel.Element{xmlmodel.New("LastModifiedTime", r.LastModified.UTC().Format(timeFormat))}
}

// ManagedResource builds a managed resource of a kind the API serves
// from its Id and configuration document (as typed→XML encoders give
// it), for resource.Service.EnsureManaged: the document is decoded and
// normalized as a client's would be; the rules of custom resources are
// not applied (AWS's managed CORS policies have empty lists a custom one
// may not).
func ManagedResource(kind resource.Kind, id string, cfg *xmlmodel.Element) (resource.Resource, error) {
	api := kindAPIs[kind]
	if api == nil {
		return resource.Resource{}, &apiError{http.StatusInternalServerError, "InternalError", "no API for kind " + string(kind)}
	}
	// Through the decoder, so a managed document obeys the model as a
	// client's must.
	doc, err := xmlmodel.Decode(encodeRaw(cfg), api.config, api.config)
	if err != nil {
		return resource.Resource{}, err
	}
	xmlmodel.Normalize(doc, api.config)
	name, typed, err := api.decode(doc, nil, false)
	if err != nil {
		return resource.Resource{}, err
	}
	xmlmodel.Normalize(doc, api.config)
	return resource.Resource{Kind: kind, ID: id, Name: name, Config: typed, Raw: encodeRaw(doc), Managed: true}, nil
}

// kindAPIs are the kinds the API serves, by kind; filled by the files
// that define them (policies.go, originaccess.go) at init.
var kindAPIs = map[resource.Kind]*kindAPI{}
