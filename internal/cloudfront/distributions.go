package cloudfront

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/openfront/openfront/internal/cloudfront/xmlmodel"
	"github.com/openfront/openfront/internal/distribution"
)

// summaryMembers are DistributionSummary's members in the model's order;
// those not set by the server are copied from the configuration.
var summaryMembers = []string{"Id", "ARN", "ETag", "Status", "LastModifiedTime", "DomainName", "Aliases", "Origins",
	"OriginGroups", "DefaultCacheBehavior", "CacheBehaviors", "CustomErrorResponses", "Comment", "PriceClass", "Enabled",
	"ViewerCertificate", "Restrictions", "WebACLId", "HttpVersion", "IsIPV6Enabled", "AliasICPRecordals", "Staging",
	"ConnectionMode", "AnycastIpListId", "ViewerMtlsConfig", "ConnectionFunctionAssociation"}

func (h *Handler) createDistribution(w http.ResponseWriter, r *http.Request) {
	if err := h.authorize(r, "CreateDistribution", ""); err != nil {
		h.fail(w, r, requestID(r), err)
		return
	}
	var cfgElem *xmlmodel.Element
	var tags []distribution.Tag
	if r.URL.Query().Has("WithTags") {
		root, err := xmlmodel.Decode(body(r), "DistributionConfigWithTags", "DistributionConfigWithTags")
		if err != nil {
			h.fail(w, r, requestID(r), err)
			return
		}
		cfgElem = root.Child("DistributionConfig")
		tags = decodeTags(root.Child("Tags"))
	} else {
		root, err := xmlmodel.Decode(body(r), "DistributionConfig", "DistributionConfig")
		if err != nil {
			h.fail(w, r, requestID(r), err)
			return
		}
		cfgElem = root
	}
	ref, cfg, raw, err := decodeDistributionConfig(cfgElem)
	if err != nil {
		h.fail(w, r, requestID(r), err)
		return
	}
	d, err := h.dists.Create(r.Context(), ref, cfg, raw, tags)
	if err != nil {
		h.fail(w, r, requestID(r), err)
		return
	}
	w.Header().Set("Location", baseURL(r)+"/2020-05-31/distribution/"+d.ID)
	h.writeDistribution(w, r, http.StatusCreated, &d)
}

func (h *Handler) getDistribution(w http.ResponseWriter, r *http.Request) {
	d, ok := h.readable(w, r, "GetDistribution")
	if ok {
		h.writeDistribution(w, r, http.StatusOK, &d)
	}
}

func (h *Handler) getDistributionConfig(w http.ResponseWriter, r *http.Request) {
	d, ok := h.readable(w, r, "GetDistributionConfig")
	if !ok {
		return
	}
	raw := string(rawConfig(&d))
	var b strings.Builder
	b.WriteString(xmlHeader)
	b.WriteString(`<DistributionConfig xmlns="` + Namespace + `"`)
	b.WriteString(strings.TrimPrefix(raw, "<DistributionConfig"))
	w.Header().Set("ETag", d.ETag)
	writeXML(w, http.StatusOK, b.String())
}

func (h *Handler) readable(w http.ResponseWriter, r *http.Request, action string) (distribution.Distribution, bool) {
	id := r.PathValue("Id")
	if err := h.authorize(r, action, id); err != nil {
		h.fail(w, r, requestID(r), err)
		return distribution.Distribution{}, false
	}
	d, err := h.dists.Get(id)
	if err != nil {
		h.fail(w, r, requestID(r), err)
		return distribution.Distribution{}, false
	}
	return d, true
}

func (h *Handler) updateDistribution(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("Id")
	if err := h.authorize(r, "UpdateDistribution", id); err != nil {
		h.fail(w, r, requestID(r), err)
		return
	}
	root, err := xmlmodel.Decode(body(r), "DistributionConfig", "DistributionConfig")
	if err != nil {
		h.fail(w, r, requestID(r), err)
		return
	}
	ref, cfg, raw, err := decodeDistributionConfig(root)
	if err != nil {
		h.fail(w, r, requestID(r), err)
		return
	}
	d, err := h.dists.Update(r.Context(), id, ifMatch(r), ref, cfg, raw)
	if err != nil {
		h.fail(w, r, requestID(r), err)
		return
	}
	h.writeDistribution(w, r, http.StatusOK, &d)
}

func (h *Handler) deleteDistribution(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("Id")
	if err := h.authorize(r, "DeleteDistribution", id); err != nil {
		h.fail(w, r, requestID(r), err)
		return
	}
	if err := h.dists.Delete(r.Context(), id, ifMatch(r)); err != nil {
		h.fail(w, r, requestID(r), err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (h *Handler) listDistributions(w http.ResponseWriter, r *http.Request) {
	if err := h.authorize(r, "ListDistributions", ""); err != nil {
		h.fail(w, r, requestID(r), err)
		return
	}
	maxItems, err := parseMaxItems(r)
	if err != nil {
		h.fail(w, r, requestID(r), err)
		return
	}
	marker := r.URL.Query().Get("Marker")
	page, next := h.dists.List(marker, maxItems)
	p := xmlmodel.NewParent
	list := listHead("DistributionList", marker, next, maxItems, len(page))
	if len(page) > 0 {
		items := p("Items")
		for i := range page {
			s, err := h.summary(r, &page[i])
			if err != nil {
				h.fail(w, r, requestID(r), err)
				return
			}
			items.Children = append(items.Children, s)
		}
		list.Children = append(list.Children, items)
	}
	var b strings.Builder
	b.WriteString(xmlHeader)
	xmlmodel.Encode(&b, list, true)
	writeXML(w, http.StatusOK, b.String())
}

// summary builds a DistributionSummary from a distribution.
func (h *Handler) summary(r *http.Request, d *distribution.Distribution) (*xmlmodel.Element, error) {
	cfg, err := xmlmodel.Decode(rawConfig(d), "DistributionConfig", "DistributionConfig")
	if err != nil {
		return nil, err
	}
	n := xmlmodel.New
	own := map[string]*xmlmodel.Element{
		"Id":               n("Id", d.ID),
		"ARN":              n("ARN", d.ARN),
		"ETag":             n("ETag", d.ETag),
		"Status":           n("Status", d.Status),
		"LastModifiedTime": n("LastModifiedTime", d.LastModified.UTC().Format(timeFormat)),
		"DomainName":       n("DomainName", d.Domain),
		"Staging":          n("Staging", "false"),
	}
	s := xmlmodel.NewParent("DistributionSummary")
	for _, m := range summaryMembers {
		if e := own[m]; e != nil && (m != "Staging" || cfg.Child("Staging") == nil) {
			s.Children = append(s.Children, e)
		} else if c := cfg.Child(m); c != nil {
			s.Children = append(s.Children, c)
		}
	}
	return s, nil
}

// writeDistribution writes a <Distribution> with the ETag header.
func (h *Handler) writeDistribution(w http.ResponseWriter, r *http.Request, status int, d *distribution.Distribution) {
	batches, err := h.inv.InProgressBatches(r.Context(), d.ID)
	if err != nil {
		h.fail(w, r, requestID(r), err)
		return
	}
	var b strings.Builder
	b.WriteString(xmlHeader)
	b.WriteString(`<Distribution xmlns="` + Namespace + `"><Id>`)
	escapeTo(&b, d.ID)
	b.WriteString("</Id><ARN>")
	escapeTo(&b, d.ARN)
	b.WriteString("</ARN><Status>")
	b.WriteString(d.Status)
	b.WriteString("</Status><LastModifiedTime>")
	b.WriteString(d.LastModified.UTC().Format(timeFormat))
	b.WriteString("</LastModifiedTime><InProgressInvalidationBatches>")
	b.WriteString(strconv.Itoa(batches))
	b.WriteString("</InProgressInvalidationBatches><DomainName>")
	escapeTo(&b, d.Domain)
	b.WriteString("</DomainName>")
	h.writeActiveSigners(&b, r, d)
	b.Write(rawConfig(d))
	b.WriteString("</Distribution>")
	w.Header().Set("ETag", d.ETag)
	writeXML(w, status, b.String())
}

// rawConfig is the stored DistributionConfig document, built from the
// typed configuration for distributions of the configuration file.
func rawConfig(d *distribution.Distribution) []byte {
	if len(d.RawConfig) == 0 {
		return fileDistributionConfig(d)
	}
	return d.RawConfig
}

func decodeTags(e *xmlmodel.Element) []distribution.Tag {
	var tags []distribution.Tag
	for _, t := range e.Items() {
		k, _ := t.Value("Key")
		v, _ := t.Value("Value")
		tags = append(tags, distribution.Tag{Key: k, Value: v})
	}
	return tags
}

func (h *Handler) tagging(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	arn := q.Get("Resource")
	if arn == "" {
		h.fail(w, r, requestID(r), invalidArgument("The parameter Resource is required."))
		return
	}
	id := arn[strings.LastIndex(arn, "/")+1:]
	switch {
	case r.Method == http.MethodGet:
		if err := h.authorize(r, "ListTagsForResource", id); err != nil {
			h.fail(w, r, requestID(r), err)
			return
		}
		tags, err := h.dists.Tags(arn)
		if err != nil {
			h.fail(w, r, requestID(r), err)
			return
		}
		var b strings.Builder
		b.WriteString(xmlHeader)
		b.WriteString(`<Tags xmlns="` + Namespace + `">`)
		if len(tags) > 0 {
			b.WriteString("<Items>")
			for _, t := range tags {
				b.WriteString("<Tag><Key>")
				escapeTo(&b, t.Key)
				b.WriteString("</Key><Value>")
				escapeTo(&b, t.Value)
				b.WriteString("</Value></Tag>")
			}
			b.WriteString("</Items>")
		}
		b.WriteString("</Tags>")
		writeXML(w, http.StatusOK, b.String())
	case q.Get("Operation") == "Tag":
		if err := h.authorize(r, "TagResource", id); err != nil {
			h.fail(w, r, requestID(r), err)
			return
		}
		root, err := xmlmodel.Decode(body(r), "Tags", "Tags")
		if err != nil {
			h.fail(w, r, requestID(r), err)
			return
		}
		if err := h.dists.Tag(r.Context(), arn, decodeTags(root)); err != nil {
			h.fail(w, r, requestID(r), err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	case q.Get("Operation") == "Untag":
		if err := h.authorize(r, "UntagResource", id); err != nil {
			h.fail(w, r, requestID(r), err)
			return
		}
		root, err := xmlmodel.Decode(body(r), "TagKeys", "TagKeys")
		if err != nil {
			h.fail(w, r, requestID(r), err)
			return
		}
		if err := h.dists.Untag(r.Context(), arn, texts(root.Items())); err != nil {
			h.fail(w, r, requestID(r), err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	default:
		h.fail(w, r, requestID(r), invalidArgument("The parameter Operation must be Tag or Untag."))
	}
}

// listHead is the start of a distribution list document (DistributionList,
// DistributionIdList): Marker, NextMarker when there is a next page,
// MaxItems, IsTruncated and Quantity, in the model's order.
func listHead(name, marker, next string, maxItems, quantity int) *xmlmodel.Element {
	n := xmlmodel.New
	list := xmlmodel.NewParent(name, n("Marker", marker))
	if next != "" {
		list.Children = append(list.Children, n("NextMarker", next))
	}
	list.Children = append(list.Children,
		n("MaxItems", strconv.Itoa(maxItems)),
		n("IsTruncated", strconv.FormatBool(next != "")),
		n("Quantity", strconv.Itoa(quantity)))
	return list
}
