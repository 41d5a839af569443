package console

import (
	"bytes"
	"encoding/json"
	"errors"
	"html/template"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/openfront/openfront/internal/distribution"
	"github.com/openfront/openfront/internal/fleet"
	"github.com/openfront/openfront/internal/invalidation"
)

// pageData is what every page's template gets.
type pageData struct {
	Title string
	// CSRF is the token the page's forms carry.
	CSRF string
	// KeyID is the signed-in key ("" in open mode, or signed out).
	KeyID    string
	SignedIn bool
	// Fleet shows the Edges link.
	Fleet bool
	Data  any
}

func parsePages() map[string]*template.Template {
	funcs := template.FuncMap{
		"time":     func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05 UTC") },
		"rfc3339":  func(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) },
		"percent":  percent,
		"duration": seconds,
		"join":     strings.Join,
		"more":     func(p []string) int { return len(p) - 1 },
	}
	pages := map[string]*template.Template{}
	for _, name := range []string{"signin", "distributions", "distribution", "invalidation", "edges", "error"} {
		pages[name] = template.Must(template.New("layout.html").Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/"+name+".html"))
	}
	return pages
}

// render executes a page into a buffer first, so that a template error
// is a 500 and not half a page.
func (cs *Console) render(w http.ResponseWriter, status int, name string, d pageData) {
	var b bytes.Buffer
	if err := cs.pages[name].Execute(&b, d); err != nil {
		cs.log.Error("console: rendering a page", "page", name, "err", err)
		http.Error(w, "internal error rendering the page", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	w.Write(b.Bytes())
}

func (cs *Console) page(s *session, title string, data any) pageData {
	d := pageData{Title: title, Data: data}
	if s != nil {
		d.CSRF, d.KeyID, d.SignedIn = s.csrf, s.keyID, !cs.OpenMode()
		d.Fleet = cs.c.Fleet != nil && cs.unrestricted(s)
	}
	return d
}

type errorView struct{ Heading, Message string }

func (cs *Console) errorPage(w http.ResponseWriter, r *http.Request, s *session, status int, heading, msg string) {
	cs.render(w, status, "error", cs.page(s, heading, errorView{heading, msg}))
}

// statsView is a distribution's cache statistics as shown.
type statsView struct {
	Enabled  bool // a gatherer is wired
	Error    string
	Requests uint64
	Hits     uint64
	HitRatio string
	Fetches  uint64
	Mean     string
	P50      string
}

func percent(f float64) string {
	if math.IsNaN(f) {
		return "–"
	}
	return strconv.FormatFloat(f*100, 'f', 1, 64) + " %"
}

func seconds(f float64) string {
	if math.IsNaN(f) {
		return "–"
	}
	return time.Duration(f * float64(time.Second)).Round(10 * time.Microsecond).String()
}

// stats gathers the metrics once and returns a function giving each
// distribution's view.
func (cs *Console) stats() func(id string) statsView {
	if cs.c.Metrics == nil {
		return func(string) statsView { return statsView{} }
	}
	families, err := cs.c.Metrics.Gather()
	if err != nil && len(families) == 0 {
		msg := "gathering metrics: " + err.Error()
		return func(string) statsView { return statsView{Enabled: true, Error: msg} }
	}
	all := cacheStatsByDistribution(families)
	return func(id string) statsView {
		s := all[id]
		return statsView{Enabled: true, Requests: s.Requests, Hits: s.Hits, HitRatio: percent(s.HitRatio()),
			Fetches: s.OriginFetches, Mean: seconds(s.MeanOrigin()), P50: seconds(s.P50)}
	}
}

type distRow struct {
	distribution.Distribution
	Stats statsView
}

type distributionsView struct {
	Items      []distRow
	NextMarker string
	Metrics    bool
}

// maxListed bounds the distributions one page lists.
const maxListed = 100

func (cs *Console) serveDistributions(w http.ResponseWriter, r *http.Request, s *session) {
	marker := r.URL.Query().Get("marker")
	stats := cs.stats()
	v := distributionsView{Metrics: cs.c.Metrics != nil}
	// A limited key's distributions are few; walk pages until one of
	// ours is full.
	for {
		page, next := cs.c.Distributions.List(marker, maxListed)
		for _, d := range page {
			if !cs.maysee(s, d.ID) {
				continue
			}
			if len(v.Items) == maxListed {
				v.NextMarker = v.Items[len(v.Items)-1].ID
				break
			}
			v.Items = append(v.Items, distRow{d, stats(d.ID)})
		}
		if next == "" || v.NextMarker != "" {
			break
		}
		marker = next
	}
	cs.render(w, http.StatusOK, "distributions", cs.page(s, "Distributions", v))
}

// invRow is an invalidation with its progress over the edges.
type invRow struct {
	invalidation.Invalidation
	Progress progress
}

// progress is which edges applied an invalidation's fleet event.
type progress struct {
	// Tracked is false when the hub does not (or no longer) know the
	// event: before it is logged, or long after.
	Tracked bool       `json:"tracked"`
	Applied int        `json:"applied"`
	Pending int        `json:"pending"`
	Edges   []edgeProg `json:"edges"`
}

type edgeProg struct {
	Name    string    `json:"name"`
	Applied bool      `json:"applied"`
	At      time.Time `json:"at,omitzero"`
}

func (cs *Console) progressOf(inv invalidation.Invalidation) progress {
	p := progress{Edges: []edgeProg{}}
	if cs.c.Fleet == nil {
		return p
	}
	st, ok := cs.c.Fleet.EventStatus(fleet.InvalidationKey(inv.DistributionID, inv.ID))
	if !ok {
		return p
	}
	p.Tracked = true
	for name, at := range st.Applied {
		p.Edges = append(p.Edges, edgeProg{Name: name, Applied: true, At: at})
	}
	for _, name := range st.Pending {
		if _, done := st.Applied[name]; !done {
			p.Edges = append(p.Edges, edgeProg{Name: name})
		}
	}
	slices.SortFunc(p.Edges, func(a, b edgeProg) int { return strings.Compare(a.Name, b.Name) })
	for _, e := range p.Edges {
		if e.Applied {
			p.Applied++
		} else {
			p.Pending++
		}
	}
	return p
}

type distributionView struct {
	D            distribution.Distribution
	Origins      []originView
	Behaviors    []behaviorView
	Stats        statsView
	Invs         []invRow
	Marker       string
	NextMarker   string
	Form         formView
	InProgress   bool
	Fleet        bool
	ListError    string
	PollEndpoint string
}

type originView struct {
	ID, Domain, Path, Protocol, URL string
	S3                              bool
}

type behaviorView struct {
	Pattern, Origin, Viewer, Allowed, Cached, Cookies string
	Compress, Query                                   bool
	MinTTL, DefaultTTL, MaxTTL                        int64
	CachePolicy                                       string
}

// formView is the create-invalidation form's state.
type formView struct {
	CallerReference string
	Paths           string
	ErrorCode       string
	Error           string
}

func behaviorOf(b distribution.CacheBehavior) behaviorView {
	pattern := b.PathPattern
	if pattern == "" {
		pattern = "Default (*)"
	}
	return behaviorView{Pattern: pattern, Origin: b.TargetOriginID, Viewer: b.ViewerProtocolPolicy,
		Allowed: strings.Join(b.AllowedMethods, ", "), Cached: strings.Join(b.CachedMethods, ", "), Cookies: b.ForwardCookies,
		Compress: b.Compress, Query: b.ForwardQueryString, MinTTL: b.MinTTL, DefaultTTL: b.DefaultTTL, MaxTTL: b.MaxTTL,
		CachePolicy: b.CachePolicyID}
}

func (cs *Console) serveDistribution(w http.ResponseWriter, r *http.Request, s *session) {
	cs.distributionPage(w, r, s, r.PathValue("id"), http.StatusOK, formView{})
}

// distributionPage renders a distribution with its invalidations and the
// form in state f (a new CallerReference when f has none).
func (cs *Console) distributionPage(w http.ResponseWriter, r *http.Request, s *session, id string, status int, f formView) {
	d, ok := cs.distribution(w, r, s, id)
	if !ok {
		return
	}
	if f.CallerReference == "" {
		f.CallerReference = "console-" + strconv.FormatInt(cs.now().UnixNano(), 36) + "-" + randomToken()[:8]
	}
	v := distributionView{D: d, Stats: cs.stats()(d.ID), Form: f, Fleet: cs.c.Fleet != nil}
	for _, o := range d.Config.Origins {
		v.Origins = append(v.Origins, originView{ID: o.ID, Domain: o.DomainName, Path: o.OriginPath,
			Protocol: o.ProtocolPolicy, URL: o.URL().String(), S3: o.S3})
	}
	for _, b := range d.Config.Behaviors {
		v.Behaviors = append(v.Behaviors, behaviorOf(b))
	}
	v.Behaviors = append(v.Behaviors, behaviorOf(d.Config.DefaultBehavior))
	v.Marker = r.URL.Query().Get("marker")
	rows, next, err := cs.invalidations(r, d.ID, v.Marker)
	if err != nil {
		v.ListError = err.Error()
	}
	v.Invs, v.NextMarker = rows, next
	for _, row := range rows {
		if row.Status == invalidation.InProgress {
			v.InProgress = true
		}
	}
	v.PollEndpoint = Prefix + "api/distributions/" + urlPathEscape(d.ID) + "/invalidations"
	if v.Marker != "" {
		v.PollEndpoint += "?marker=" + urlQueryEscape(v.Marker)
	}
	cs.render(w, status, "distribution", cs.page(s, d.ID, v))
}

// invalidations lists a page of a distribution's invalidations with the
// progress of those in progress (the hub's lookup is a scan from the
// newest event, short for recent ones).
func (cs *Console) invalidations(r *http.Request, distID, marker string) ([]invRow, string, error) {
	page, err := cs.c.Invalidations.List(r.Context(), distID, marker, pageSize)
	if err != nil {
		return nil, "", err
	}
	rows := make([]invRow, 0, len(page.Items))
	for _, inv := range page.Items {
		row := invRow{Invalidation: inv, Progress: progress{Edges: []edgeProg{}}}
		if inv.Status == invalidation.InProgress {
			row.Progress = cs.progressOf(inv)
		}
		rows = append(rows, row)
	}
	return rows, page.NextMarker, nil
}

func (cs *Console) serveCreateInvalidation(w http.ResponseWriter, r *http.Request, s *session) {
	id := r.PathValue("id")
	if _, ok := cs.distribution(w, r, s, id); !ok {
		return
	}
	f := formView{CallerReference: r.PostForm.Get("caller_reference"), Paths: r.PostForm.Get("paths")}
	b := invalidation.Batch{CallerReference: f.CallerReference, Paths: splitPaths(f.Paths)}
	inv, _, err := cs.c.Invalidations.Create(r.Context(), id, b)
	if err != nil {
		status := statusOf(err)
		if e := (*invalidation.Error)(nil); errors.As(err, &e) {
			f.ErrorCode, f.Error = e.Code, e.Message
		} else {
			cs.log.Error("console: creating an invalidation", "distribution", id, "err", err)
			f.ErrorCode, f.Error = "InternalError", "The invalidation could not be created; the server's log says why."
		}
		cs.distributionPage(w, r, s, id, status, f)
		return
	}
	http.Redirect(w, r, Prefix+"distributions/"+urlPathEscape(id)+"/invalidations/"+urlPathEscape(inv.ID), http.StatusSeeOther)
}

// splitPaths reads one path a line; blank lines are skipped, nothing else
// is changed (a path's own spaces are the user's).
func splitPaths(text string) []string {
	var paths []string
	for line := range strings.SplitSeq(text, "\n") {
		line = strings.TrimSuffix(line, "\r")
		if strings.TrimSpace(line) == "" {
			continue
		}
		paths = append(paths, line)
	}
	return paths
}

type invalidationView struct {
	D        distribution.Distribution
	Inv      invRow
	Fleet    bool
	Endpoint string
}

func (cs *Console) serveInvalidation(w http.ResponseWriter, r *http.Request, s *session) {
	d, ok := cs.distribution(w, r, s, r.PathValue("id"))
	if !ok {
		return
	}
	inv, err := cs.c.Invalidations.Get(r.Context(), d.ID, r.PathValue("inv"))
	if err != nil {
		cs.errorPage(w, r, s, statusOf(err), "No such invalidation", err.Error())
		return
	}
	v := invalidationView{D: d, Inv: invRow{inv, cs.progressOf(inv)}, Fleet: cs.c.Fleet != nil,
		Endpoint: Prefix + "api/distributions/" + urlPathEscape(d.ID) + "/invalidations/" + urlPathEscape(inv.ID)}
	cs.render(w, http.StatusOK, "invalidation", cs.page(s, inv.ID, v))
}

// invJSON is an invalidation as the JSON endpoints give it.
type invJSON struct {
	ID           string    `json:"id"`
	Status       string    `json:"status"`
	CreateTime   time.Time `json:"create_time"`
	CompleteTime time.Time `json:"complete_time,omitzero"`
	Paths        int       `json:"paths"`
	Progress     progress  `json:"progress"`
}

func toJSON(row invRow) invJSON {
	return invJSON{ID: row.ID, Status: string(row.Status), CreateTime: row.CreateTime, CompleteTime: row.CompleteTime,
		Paths: len(row.Batch.Paths), Progress: row.Progress}
}

func (cs *Console) apiDistribution(w http.ResponseWriter, s *session, id string) bool {
	if !cs.maysee(s, id) {
		writeJSONError(w, http.StatusForbidden, "access key "+s.keyID+" is not allowed to see distribution "+id)
		return false
	}
	if _, err := cs.c.Distributions.Get(id); err != nil {
		writeJSONError(w, http.StatusNotFound, "no such distribution: "+id)
		return false
	}
	return true
}

func (cs *Console) serveInvalidationsJSON(w http.ResponseWriter, r *http.Request, s *session) {
	id := r.PathValue("id")
	if !cs.apiDistribution(w, s, id) {
		return
	}
	rows, next, err := cs.invalidations(r, id, r.URL.Query().Get("marker"))
	if err != nil {
		writeJSONError(w, statusOf(err), err.Error())
		return
	}
	out := struct {
		Items      []invJSON `json:"items"`
		NextMarker string    `json:"next_marker,omitempty"`
	}{Items: []invJSON{}, NextMarker: next}
	for _, row := range rows {
		out.Items = append(out.Items, toJSON(row))
	}
	writeJSON(w, out)
}

func (cs *Console) serveInvalidationJSON(w http.ResponseWriter, r *http.Request, s *session) {
	id := r.PathValue("id")
	if !cs.apiDistribution(w, s, id) {
		return
	}
	inv, err := cs.c.Invalidations.Get(r.Context(), id, r.PathValue("inv"))
	if err != nil {
		writeJSONError(w, statusOf(err), err.Error())
		return
	}
	writeJSON(w, toJSON(invRow{inv, cs.progressOf(inv)}))
}

// edgeView is an edge of the registry as shown.
type edgeView struct {
	fleet.EdgeStatus
	Since     string // since its last acknowledgement
	Freshness string // ok, late or stale
}

type edgesView struct {
	Head    uint64
	Edges   []edgeView
	Removed []fleet.RemovedEdge
	Timeout time.Duration
}

// freshAck is how recent an acknowledgement is for an edge to count as
// keeping up: followers acknowledge at least every second.
const freshAck = 3 * time.Second

func (cs *Console) serveEdges(w http.ResponseWriter, r *http.Request, s *session) {
	if cs.c.Fleet == nil {
		cs.errorPage(w, r, s, http.StatusNotFound, "No fleet", "This server runs no fleet.")
		return
	}
	if !cs.unrestricted(s) {
		cs.errorPage(w, r, s, http.StatusForbidden, "Access denied", "Access key "+s.keyID+" is limited to some distributions; the edge registry needs an unrestricted key.")
		return
	}
	st := cs.c.Fleet.Status()
	now := cs.now()
	v := edgesView{Head: st.Head, Removed: st.Removed, Timeout: cs.c.EdgeTimeout}
	for _, e := range st.Edges {
		age := now.Sub(e.LastSeen)
		ev := edgeView{EdgeStatus: e, Since: age.Round(100 * time.Millisecond).String()}
		switch {
		case e.LastSeen.IsZero():
			ev.Since, ev.Freshness = "never", "stale"
		case age <= freshAck:
			ev.Freshness = "ok"
		case age < cs.c.EdgeTimeout/2:
			ev.Freshness = "late"
		default:
			// An edge's --max-staleness is at most half the timeout:
			// it answers 503 rather than serve from its cache.
			ev.Freshness = "stale"
		}
		v.Edges = append(v.Edges, ev)
	}
	slices.Reverse(v.Removed) // newest first
	cs.render(w, http.StatusOK, "edges", cs.page(s, "Edges", v))
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(v)
}

func writeJSONError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]string{"error": msg})
}

func urlPathEscape(s string) string  { return url.PathEscape(s) }
func urlQueryEscape(s string) string { return url.QueryEscape(s) }
