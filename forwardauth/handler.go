package forwardauth

import (
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gatehouse-auth/gatehouse"
	"github.com/gatehouse-auth/gatehouse/access"
)

// The headers of an allowed answer, which the proxy copies onto the request to the app.
const (
	HeaderUser   = "Remote-User"
	HeaderName   = "Remote-Name"
	HeaderEmail  = "Remote-Email"
	HeaderGroups = "Remote-Groups"
	HeaderJWT    = "Remote-JWT"
)

// jwtKey is HeaderJWT in the canonical form that http.Header's methods look up.
var jwtKey = http.CanonicalHeaderKey(HeaderJWT)

// original is the request the proxy asks about.
type original struct {
	method, scheme, host, uri string
	path                      string // decoded and cleaned, for the rules
	client                    netip.Addr
}

// url returns the original request's address, the return address after sign-in.
func (o *original) url() string { return o.scheme + "://" + o.host + o.uri }

// ForwardAuth answers Traefik's ForwardAuth and Caddy's forward_auth: the original request is
// in X-Forwarded-Method, -Proto, -Host and -Uri. A browser that is not signed in is sent to the
// sign-in page (302); an API client gets 401.
func (h *Handler) ForwardAuth(w http.ResponseWriter, r *http.Request) {
	h.serve(w, r, forwarded, true)
}

// AuthRequest answers nginx's auth_request: the original request is in X-Original-URL and
// X-Original-Method. Not signed in is always 401 (nginx's error_page redirects browsers).
func (h *Handler) AuthRequest(w http.ResponseWriter, r *http.Request) {
	h.serve(w, r, originalURL, false)
}

func (h *Handler) serve(w http.ResponseWriter, r *http.Request, read func(*http.Request) (original, error), redirect bool) {
	w.Header()["Cache-Control"] = noStore
	peer, ok := peerAddr(r)
	if !ok || !h.trusted(peer) {
		h.log.Warn("forward-auth request refused: the peer is not a trusted proxy (--trusted-proxies)", "peer", r.RemoteAddr)
		writeError(w, http.StatusForbidden, gatehouse.EFORBIDDEN, "this endpoint answers only trusted proxies")
		return
	}
	o, err := read(r)
	if err != nil {
		writeError(w, http.StatusBadRequest, gatehouse.EBADREQUEST, err.Error())
		return
	}
	o.client = h.clientAddr(r, peer)
	d := h.cfg.Rules.Load().Decide(&access.Request{Host: o.host, Path: o.path, Method: o.method, Client: o.client})
	switch {
	case d.Kind == access.Bypass:
		w.WriteHeader(http.StatusOK)
		return
	case d.Kind == access.Deny:
		writeError(w, http.StatusForbidden, gatehouse.EFORBIDDEN, "access to this address is denied")
		return
	}
	cred, ok := credential(r, h.cfg.CookieName)
	if !ok {
		h.notSignedIn(w, r, &o, redirect, gatehouse.ErrTokenMissing, false)
		return
	}
	id, err := h.cfg.Authenticator.Authenticate(r.Context(), cred)
	if err != nil {
		h.failed(w, r, &o, redirect, err, cred.Bearer != "")
		return
	}
	if !allows(d.Policy, &id) {
		writeError(w, http.StatusForbidden, gatehouse.EFORBIDDEN, "this address needs "+d.Policy.String())
		return
	}
	h.allow(w, &o, cred, &id)
}

// allows reports whether id passes p (which needs an identity).
func allows(p access.Policy, id *Identity) bool {
	switch p.Kind {
	case access.Authenticated:
		return true
	case access.Role:
		return id.Role.Allows(gatehouse.Role(p.Name))
	case access.Group:
		return slices.Contains(id.Groups, p.Name)
	}
	return false
}

func (h *Handler) allow(w http.ResponseWriter, o *original, cred Credential, id *Identity) {
	hd := w.Header()
	hd[HeaderUser] = []string{id.Username}
	hd[HeaderName] = []string{id.Name}
	hd[HeaderEmail] = []string{id.Email}
	hd[HeaderGroups] = []string{groupsValue(id)}
	if h.cfg.Assertions != nil {
		jwt, err := h.assertion(cred, o, id)
		if err != nil {
			h.log.Error("forward-auth: signing the assertion failed", "err", err)
			writeError(w, http.StatusInternalServerError, gatehouse.EINTERNAL, "internal error")
			return
		}
		hd[jwtKey] = []string{jwt}
	}
	w.WriteHeader(http.StatusOK)
}

// groupsValue is the Remote-Groups header: the role, then the groups, comma-separated.
func groupsValue(id *Identity) string {
	if len(id.Groups) == 0 {
		return string(id.Role)
	}
	return string(id.Role) + "," + strings.Join(id.Groups, ",")
}

// failed answers a credential that signed no one in (as not signed in), or a store failure
// (503: fail closed).
func (h *Handler) failed(w http.ResponseWriter, r *http.Request, o *original, redirect bool, err error, bearer bool) {
	switch gatehouse.ErrorCode(err) {
	case gatehouse.ETOKENMISSING, gatehouse.EINVALIDTOKEN, gatehouse.ETOKENEXPIRED, gatehouse.ESESSIONEXPIRED:
		if !h.throttled(w, r, o, redirect, err) {
			h.notSignedIn(w, r, o, redirect, err, bearer)
		}
	case gatehouse.EINSUFFICIENTAUTH:
		// A valid credential whose sign-in used one factor while the user's role requires two
		// (--require-mfa-roles): not signed in as needed, and no guess to count against the
		// address; the sign-in page asks for the second factor.
		h.notSignedIn(w, r, o, redirect, err, bearer)
	case gatehouse.ETOOLARGE, gatehouse.EBADREQUEST, gatehouse.EINVALIDCREDENTIALS:
		// A credential that cannot be read signs no one in; proxies know only 401 and 403.
		if !h.throttled(w, r, o, redirect, gatehouse.ErrInvalidToken) {
			h.notSignedIn(w, r, o, redirect, gatehouse.ErrInvalidToken, bearer)
		}
	case gatehouse.EUNAVAILABLE:
		h.log.Warn("forward-auth: a store is unavailable", "err", err)
		w.Header().Set("Retry-After", "1")
		writeError(w, http.StatusServiceUnavailable, gatehouse.EUNAVAILABLE, gatehouse.ErrorMessage(err))
	default:
		h.log.Error("forward-auth: internal error", "err", err)
		writeError(w, http.StatusInternalServerError, gatehouse.EINTERNAL, "internal error")
	}
}

// throttled counts a failed credential against the original client's address and, when the
// address is over its budget, answers so and reports true. forward-auth answers 429 with
// Retry-After (Caddy and Traefik pass it on to the client as it is), to browsers too: a
// redirect would tell a guesser that the credential failed. auth-request answers 401 with
// Retry-After and the code rate_limited, because nginx turns any status of auth_request other
// than 2xx, 401 and 403 into a 500; the shipped nginx snippet turns it back into 429.
func (h *Handler) throttled(w http.ResponseWriter, r *http.Request, o *original, redirect bool, err error) bool {
	if h.cfg.Failures == nil {
		return false
	}
	wait := h.cfg.Failures.CredentialFailed(r.Context(), o.client, err)
	if wait <= 0 {
		return false
	}
	secs := strconv.FormatInt(max(int64((wait+time.Second-1)/time.Second), 1), 10)
	w.Header().Set("Retry-After", secs)
	status := http.StatusTooManyRequests
	if !redirect {
		status = http.StatusUnauthorized
		w.Header().Set("WWW-Authenticate", `Bearer realm="gatehouse"`)
	}
	writeError(w, status, gatehouse.ERATELIMITED, "too many failed credentials from this address; try again in "+secs+" s")
	return true
}

// notSignedIn sends a browser to the sign-in page (forward-auth only) and answers anyone else
// 401 with a WWW-Authenticate challenge (with error="invalid_token" when the client sent a
// bearer token, as everywhere in the API). auth-request's 401 carries the sign-in address in
// Location, for nginx to redirect browsers to (auth_request_set, error_page).
func (h *Handler) notSignedIn(w http.ResponseWriter, r *http.Request, o *original, redirect bool, err error, bearer bool) {
	if h.cfg.SignInURL != "" {
		switch {
		case redirect && wantsHTML(r):
			w.Header().Set("Location", h.signInURL(o))
			w.WriteHeader(http.StatusFound)
			return
		case !redirect:
			w.Header().Set("Location", h.signInURL(o))
		}
	}
	code := gatehouse.ErrorCode(err)
	challenge := `Bearer realm="gatehouse"`
	if bearer {
		challenge += `, error="invalid_token"`
	}
	w.Header().Set("WWW-Authenticate", challenge)
	writeError(w, http.StatusUnauthorized, code, gatehouse.ErrorMessage(err))
}

func (h *Handler) signInURL(o *original) string {
	sep := "?"
	if strings.Contains(h.cfg.SignInURL, "?") {
		sep = "&"
	}
	return h.cfg.SignInURL + sep + "rd=" + url.QueryEscape(o.url())
}

// wantsHTML reports whether the client is a browser navigating (Accept names text/html).
func wantsHTML(r *http.Request) bool {
	for _, v := range r.Header["Accept"] {
		if strings.Contains(v, "text/html") {
			return true
		}
	}
	return false
}
