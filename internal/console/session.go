package console

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"net/http"
	"sync"
	"time"
)

// Cookie names. The session cookie names a server-side session; the
// sign-in cookie carries the sign-in form's token (a double-submit
// token: another site cannot sign a browser in under its own key).
const (
	sessionCookie = "openfront_console"
	signInCookie  = "openfront_console_signin"
)

// session is one signed-in browser.
type session struct {
	keyID   string // "" in open mode
	csrf    string // the token every form of the session carries
	expires time.Time
}

// sessions is the server-side session table, keyed by the cookie's
// random token.
type sessions struct {
	ttl time.Duration
	max int
	now func() time.Time

	mu sync.Mutex
	m  map[string]*session // guarded by mu
}

func newSessions(ttl time.Duration, max int, now func() time.Time) *sessions {
	return &sessions{ttl: ttl, max: max, now: now, m: map[string]*session{}}
}

// start makes a session for keyID and returns its token.
func (ss *sessions) start(keyID string) (string, *session) {
	token := randomToken()
	s := &session{keyID: keyID, csrf: randomToken(), expires: ss.now().Add(ss.ttl)}
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if len(ss.m) >= ss.max {
		now := ss.now()
		for t, o := range ss.m {
			if !now.Before(o.expires) {
				delete(ss.m, t)
			}
		}
	}
	if len(ss.m) >= ss.max {
		// Still full of live sessions: end the one closest to expiry.
		var oldest string
		for t, o := range ss.m {
			if oldest == "" || o.expires.Before(ss.m[oldest].expires) {
				oldest = t
			}
		}
		delete(ss.m, oldest)
	}
	ss.m[token] = s
	return token, s
}

// get returns the live session of token.
func (ss *sessions) get(token string) (*session, bool) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	s, ok := ss.m[token]
	if !ok {
		return nil, false
	}
	if !ss.now().Before(s.expires) {
		delete(ss.m, token)
		return nil, false
	}
	return s, true
}

// end forgets the session of token.
func (ss *sessions) end(token string) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	delete(ss.m, token)
}

// randomToken returns 32 random bytes, base64url-encoded.
func randomToken() string {
	var b [32]byte
	rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// equal compares secrets in constant time.
func equal(a, b string) bool { return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1 }

// current returns the request's session: the open-mode one, or the one
// its cookie names.
func (cs *Console) current(r *http.Request) (*session, bool) {
	if cs.OpenMode() {
		return &session{csrf: cs.openCSRF}, true
	}
	c, err := r.Cookie(sessionCookie)
	if err != nil || c.Value == "" {
		return nil, false
	}
	s, ok := cs.sessions.get(c.Value)
	if !ok {
		return nil, false
	}
	if _, ok := cs.c.Keys[s.keyID]; !ok {
		return nil, false
	}
	return s, true
}

// authed wraps a page: without a session the browser is sent to sign in;
// a POST must carry the session's form token.
func (cs *Console) authed(h func(http.ResponseWriter, *http.Request, *session)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s, ok := cs.current(r)
		if !ok {
			if r.Method == http.MethodGet || r.Method == http.MethodHead {
				http.Redirect(w, r, Prefix+"signin", http.StatusSeeOther)
				return
			}
			cs.errorPage(w, r, nil, http.StatusUnauthorized, "Signed out", "Your session has ended: sign in again.")
			return
		}
		if r.Method == http.MethodPost {
			if err := cs.parseForm(w, r); err != nil {
				cs.errorPage(w, r, s, http.StatusRequestEntityTooLarge, "Form too large", "The form is larger than 1 MiB; send large invalidation batches through the API.")
				return
			}
			if !equal(r.PostForm.Get("csrf"), s.csrf) {
				cs.errorPage(w, r, s, http.StatusForbidden, "Invalid form", "The form's token is missing or stale: reload the page and try again.")
				return
			}
		}
		h(w, r, s)
	}
}

// authedAPI wraps a JSON endpoint: 401 without a session.
func (cs *Console) authedAPI(h func(http.ResponseWriter, *http.Request, *session)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s, ok := cs.current(r)
		if !ok {
			writeJSONError(w, http.StatusUnauthorized, "not signed in")
			return
		}
		h(w, r, s)
	}
}

// parseForm reads a form body of at most MaxFormBytes.
func (cs *Console) parseForm(w http.ResponseWriter, r *http.Request) error {
	r.Body = http.MaxBytesReader(w, r.Body, MaxFormBytes)
	if err := r.ParseForm(); err != nil {
		return errTooLarge
	}
	return nil
}

func (cs *Console) serveSignInForm(w http.ResponseWriter, r *http.Request) {
	if cs.OpenMode() {
		http.Redirect(w, r, Prefix, http.StatusSeeOther)
		return
	}
	cs.signInPage(w, r, http.StatusOK, "", "")
}

// signInPage renders the sign-in form with a fresh double-submit token.
func (cs *Console) signInPage(w http.ResponseWriter, r *http.Request, status int, keyID, msg string) {
	token := randomToken()
	http.SetCookie(w, &http.Cookie{Name: signInCookie, Value: token, Path: Prefix, MaxAge: 3600,
		HttpOnly: true, Secure: r.TLS != nil, SameSite: http.SameSiteStrictMode})
	cs.render(w, status, "signin", pageData{Title: "Sign in", CSRF: token, Data: signInView{KeyID: keyID, Error: msg}})
}

type signInView struct {
	KeyID string
	Error string
}

func (cs *Console) serveSignIn(w http.ResponseWriter, r *http.Request) {
	if cs.OpenMode() {
		http.Redirect(w, r, Prefix, http.StatusSeeOther)
		return
	}
	if err := cs.parseForm(w, r); err != nil {
		cs.signInPage(w, r, http.StatusRequestEntityTooLarge, "", "The form is too large.")
		return
	}
	c, err := r.Cookie(signInCookie)
	if err != nil || c.Value == "" || !equal(r.PostForm.Get("csrf"), c.Value) {
		cs.signInPage(w, r, http.StatusForbidden, "", "The form's token is missing or stale: try again.")
		return
	}
	id, secret := r.PostForm.Get("access_key_id"), r.PostForm.Get("secret_access_key")
	k, ok := cs.c.Keys[id]
	// Compare even for an unknown id, so that timing does not tell
	// which ids exist.
	if !equal(secret, k.Secret) || !ok || secret == "" {
		if len(id) > 128 {
			id = id[:128]
		}
		cs.log.Info("console sign-in refused", "access_key_id", id, "remote", r.RemoteAddr)
		cs.signInPage(w, r, http.StatusUnauthorized, id, "The access key id or the secret key is wrong.")
		return
	}
	token, _ := cs.sessions.start(id)
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: token, Path: Prefix, MaxAge: int(cs.c.SessionTTL / time.Second),
		HttpOnly: true, Secure: r.TLS != nil, SameSite: http.SameSiteStrictMode})
	http.SetCookie(w, &http.Cookie{Name: signInCookie, Value: "", Path: Prefix, MaxAge: -1, HttpOnly: true, SameSite: http.SameSiteStrictMode})
	cs.log.Info("console sign-in", "access_key_id", id, "remote", r.RemoteAddr)
	http.Redirect(w, r, Prefix, http.StatusSeeOther)
}

func (cs *Console) serveSignOut(w http.ResponseWriter, r *http.Request, s *session) {
	if c, err := r.Cookie(sessionCookie); err == nil {
		cs.sessions.end(c.Value)
	}
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: "", Path: Prefix, MaxAge: -1, HttpOnly: true, SameSite: http.SameSiteStrictMode})
	http.Redirect(w, r, Prefix+"signin", http.StatusSeeOther)
}
