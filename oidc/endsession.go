package oidc

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"strings"

	"github.com/gatehouse-auth/gatehouse"
	"github.com/gatehouse-auth/gatehouse/authn"
	ghttp "github.com/gatehouse-auth/gatehouse/http"
)

// EndSessionPath is the end-session endpoint (RP-initiated logout).
const EndSessionPath = "/oidc/end-session"

// endSessionKey is the context key of the browser's session at the end-session endpoint.
type endSessionKey struct{}

type endSessionState struct {
	sessionID string
	w         http.ResponseWriter
	client    authn.Client
}

// serveEndSession is RP-initiated logout, run by the library (id_token_hint checked with
// gatehouse's keys, client_id against its azp, state carried). gatehouse checks the
// post_logout_redirect_uri first, exactly against the client's registered ones (no loopback
// port leeway, unlike the library's check for native clients): an unregistered one gets an
// error page, never a redirect. Without one, the browser lands on the sign-in page.
func (p *Provider) serveEndSession(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, ghttp.MaxBodyBytes)
	if err := r.ParseForm(); err != nil {
		http.Error(w, "malformed request", http.StatusBadRequest)
		return
	}
	if uri := r.Form.Get("post_logout_redirect_uri"); uri != "" {
		id := r.Form.Get("client_id")
		if id == "" {
			id = hintAudience(r.Form.Get("id_token_hint"))
		}
		c, err := p.clients.ClientByID(r.Context(), id)
		switch {
		case err != nil && !errors.Is(err, gatehouse.ErrNotFound) && gatehouse.ValidID(id):
			http.Error(w, gatehouse.ErrorMessage(err), http.StatusServiceUnavailable)
			return
		case err != nil || !c.PostLogoutRedirectAllowed(uri):
			http.Error(w, "the post_logout_redirect_uri is not registered for this client", http.StatusBadRequest)
			return
		}
	}
	sid, _ := p.api.SessionCookie(r)
	st := &endSessionState{sessionID: sid, w: w, client: p.api.Client(r)}
	p.h.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), endSessionKey{}, st)))
}

// hintAudience is the client an id_token_hint names (azp, else a single aud), read without
// checking the signature: only to find the client whose post-logout redirect URIs to check
// before the library verifies the hint.
func hintAudience(hint string) string {
	parts := strings.Split(hint, ".")
	if len(parts) != 3 || len(parts[1]) > 8192 {
		return ""
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return ""
	}
	var c struct {
		AZP string          `json:"azp"`
		Aud json.RawMessage `json:"aud"`
	}
	if json.Unmarshal(b, &c) != nil {
		return ""
	}
	if c.AZP != "" {
		return c.AZP
	}
	var one string
	if json.Unmarshal(c.Aud, &one) == nil {
		return one
	}
	var many []string
	if json.Unmarshal(c.Aud, &many) == nil && len(many) == 1 {
		return many[0]
	}
	return ""
}

// TerminateSession ends the browser's gatehouse session (the one the end-session request came
// with), when it belongs to the user the id_token_hint names (or there is no hint): a logout,
// which the clients hear of by back-channel. Without a session there is nothing to end.
func (s *storage) TerminateSession(ctx context.Context, userID, _ string) error {
	st, _ := ctx.Value(endSessionKey{}).(*endSessionState)
	if st == nil || st.sessionID == "" {
		return nil
	}
	auth, err := s.uses.AuthenticateSession(ctx, st.sessionID)
	if err != nil || userID != "" && auth.UserID != userID {
		return nil // no live session of that user in this browser
	}
	if err := s.uses.Logout(ctx, auth, authn.Credential{SessionID: st.sessionID}, st.client); err != nil {
		return err
	}
	s.signOutBrowser(st.w)
	return nil
}
