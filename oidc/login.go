package oidc

import (
	"cmp"
	"context"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"time"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/gatehouse-auth/gatehouse"
	"github.com/gatehouse-auth/gatehouse/authn"
	ghttp "github.com/gatehouse-auth/gatehouse/http"
)

// scopeDescriptions are the scopes as the consent page describes them.
var scopeDescriptions = map[string]string{
	gatehouse.ScopeOpenID:        "know who you are (your user id)",
	gatehouse.ScopeProfile:       "see your name and username",
	gatehouse.ScopeEmail:         "see your e-mail address",
	gatehouse.ScopeGroups:        "see the groups you belong to",
	gatehouse.ScopeOfflineAccess: "keep access while you are away (until you revoke it)",
}

// handleLogin is where the authorization endpoint sends the browser. Without a live gatehouse
// session, or with one older than the request allows (prompt=login, max_age), the browser goes
// to the sign-in page, which comes back here; with prompt=none that is an error for the client
// instead (login_required). With a session the request is bound to its user once the user
// consents: a first-party client and scopes granted before need no consent page;
// prompt=consent always shows it; with prompt=none a missing consent is consent_required.
func (p *Provider) handleLogin(w http.ResponseWriter, r *http.Request) {
	req, ok := p.loadRequest(w, r, r.URL.Query().Get("id"))
	if !ok {
		return
	}
	auth, ok := p.session(w, r)
	if !ok {
		return
	}
	if auth.Session == nil || !p.freshEnough(req, auth.Session) {
		if req.hasPrompt(oidc.PromptNone) {
			p.fail(w, r, req, oidc.ErrLoginRequired())
			return
		}
		q := url.Values{"next": {loginPath + "?id=" + req.ID}}
		if auth.Session != nil {
			q.Set("fresh", "1")
		}
		if req.LoginHint != "" {
			q.Set("login_hint", req.LoginHint)
		}
		http.Redirect(w, r, "/?"+q.Encode(), http.StatusSeeOther)
		return
	}
	u, c, ok := p.userAndClient(w, r, auth, req)
	if !ok {
		return
	}
	g, found, err := p.grants.Grant(r.Context(), u.ID, c.ID)
	if err != nil {
		http.Error(w, gatehouse.ErrorMessage(err), http.StatusServiceUnavailable)
		return
	}
	granted := found && g.Covers(req.Scopes)
	switch {
	case c.FirstParty && !req.hasPrompt(oidc.PromptConsent), granted && !req.hasPrompt(oidc.PromptConsent):
		p.finish(w, r, req, auth, u, c)
	case req.hasPrompt(oidc.PromptNone):
		p.fail(w, r, req, &oidc.Error{ErrorType: "consent_required", Description: "the user has not granted this application access"})
	default:
		p.consent(w, r, p.consentView(req, c, g))
	}
}

// handleConsent takes the consent page's decision: allow records the grant and finishes the
// sign-in; deny sends access_denied to the client.
func (p *Provider) handleConsent(w http.ResponseWriter, r *http.Request) {
	if err := p.api.CheckOrigin(r); err != nil {
		http.Error(w, "cross-origin request refused", http.StatusForbidden)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, ghttp.MaxBodyBytes)
	if err := r.ParseForm(); err != nil {
		http.Error(w, "malformed request", http.StatusBadRequest)
		return
	}
	req, ok := p.loadRequest(w, r, r.PostForm.Get("id"))
	if !ok {
		return
	}
	auth, ok := p.session(w, r)
	if !ok {
		return
	}
	if auth.Session == nil {
		http.Error(w, "your session ended: go back to the application and start again", http.StatusBadRequest)
		return
	}
	u, c, ok := p.userAndClient(w, r, auth, req)
	if !ok {
		return
	}
	switch r.PostForm.Get("decision") {
	case "allow":
		p.finish(w, r, req, auth, u, c)
	case "deny":
		p.fail(w, r, req, oidc.ErrAccessDenied().WithDescription("the user denied access"))
	default:
		http.Error(w, "decision must be allow or deny", http.StatusBadRequest)
	}
}

// loadRequest returns the live request id, or answers an error page.
func (p *Provider) loadRequest(w http.ResponseWriter, r *http.Request, id string) (*authRequest, bool) {
	if !gatehouse.ValidSecret(id) {
		http.Error(w, "unknown or expired sign-in request", http.StatusBadRequest)
		return nil, false
	}
	req, found, err := p.flows.request(r.Context(), id)
	switch {
	case err != nil:
		http.Error(w, gatehouse.ErrorMessage(err), http.StatusServiceUnavailable)
		return nil, false
	case !found || req.IsDone:
		http.Error(w, "unknown or expired sign-in request: go back to the application and start again", http.StatusBadRequest)
		return nil, false
	}
	return req, true
}

// session authenticates the browser's gatehouse session: a zero Auth (Session nil) when there
// is none; false after answering a store failure.
func (p *Provider) session(w http.ResponseWriter, r *http.Request) (gatehouse.Auth, bool) {
	sid, _ := p.api.SessionCookie(r)
	auth, err := p.authn.Authenticate(r.Context(), authn.Credential{SessionID: sid})
	switch code := gatehouse.ErrorCode(err); {
	case err == nil:
		return auth, true
	case code == gatehouse.ESESSIONEXPIRED || code == gatehouse.ETOKENMISSING || code == gatehouse.EINVALIDTOKEN,
		code == gatehouse.EINSUFFICIENTAUTH: // a one-factor session of a role that needs two signs in again
		return gatehouse.Auth{}, true
	}
	http.Error(w, gatehouse.ErrorMessage(err), http.StatusServiceUnavailable)
	return gatehouse.Auth{}, false
}

// freshEnough reports whether the session's sign-in satisfies the request: it happened during
// the request, or the request neither forces a new one (prompt=login) nor bounds its age
// (max_age) below the session's age.
func (p *Provider) freshEnough(req *authRequest, sess *gatehouse.Session) bool {
	if !sess.CreatedAt.Before(req.CreatedAt) {
		return true
	}
	if req.hasPrompt(oidc.PromptLogin) {
		return false
	}
	return req.MaxAge == nil || p.now().Sub(sess.CreatedAt) <= time.Duration(*req.MaxAge)*time.Second
}

// userAndClient returns the signed-in user, who must be active, and the request's client.
func (p *Provider) userAndClient(w http.ResponseWriter, r *http.Request, auth gatehouse.Auth, req *authRequest) (*gatehouse.User, *gatehouse.Client, bool) {
	u, err := p.users.UserByID(r.Context(), auth.UserID)
	if err != nil || u.Disabled {
		if err != nil && !errors.Is(err, gatehouse.ErrNotFound) {
			http.Error(w, gatehouse.ErrorMessage(err), http.StatusServiceUnavailable)
			return nil, nil, false
		}
		http.Error(w, "this account cannot sign in", http.StatusForbidden)
		return nil, nil, false
	}
	c, err := p.clients.ClientByID(r.Context(), req.ClientID)
	if err != nil {
		if errors.Is(err, gatehouse.ErrNotFound) {
			http.Error(w, "the application is no longer registered", http.StatusBadRequest)
			return nil, nil, false
		}
		http.Error(w, gatehouse.ErrorMessage(err), http.StatusServiceUnavailable)
		return nil, nil, false
	}
	return u, c, true
}

// finish records the grant, binds the request to the user and sends the browser on to the
// callback that issues the code.
func (p *Provider) finish(w http.ResponseWriter, r *http.Request, req *authRequest, auth gatehouse.Auth, u *gatehouse.User, c *gatehouse.Client) {
	granted, err := p.grant(r.Context(), u.ID, c.ID, req.Scopes)
	if err != nil {
		http.Error(w, gatehouse.ErrorMessage(err), http.StatusServiceUnavailable)
		return
	}
	ok, err := p.flows.bind(r.Context(), req.ID, func(b *authRequest) {
		b.Subject, b.Grant = u.ID, granted
		b.AuthTime, b.SessionID = auth.Session.CreatedAt, auth.Session.Handle
		b.AMR = auth.Session.AMR.AMR() // the ID token's amr and acr: how the user signed in
	})
	if err != nil {
		http.Error(w, gatehouse.ErrorMessage(err), http.StatusServiceUnavailable)
		return
	}
	if !ok {
		http.Error(w, "unknown, expired or finished sign-in request", http.StatusBadRequest)
		return
	}
	http.Redirect(w, r, callbackPath+"?id="+url.QueryEscape(req.ID), http.StatusSeeOther)
}

// fail ends the request with an error sent to the client's redirect URI (with its state).
func (p *Provider) fail(w http.ResponseWriter, r *http.Request, req *authRequest, e *oidc.Error) {
	_, _, _ = p.flows.take(r.Context(), req.ID)
	op.AuthRequestError(w, r, req, e, p.op)
}

func (p *Provider) consentView(req *authRequest, c *gatehouse.Client, g *gatehouse.Grant) ghttp.ConsentView {
	v := ghttp.ConsentView{ClientName: c.Name, ClientID: c.ID, RequestID: req.ID, Action: consentPath}
	for _, sc := range req.Scopes {
		if g != nil && slices.Contains(g.Scopes, sc) && !req.hasPrompt(oidc.PromptConsent) {
			continue
		}
		v.Scopes = append(v.Scopes, ghttp.ScopeView{Name: sc, Description: scopeDescriptions[sc]})
	}
	v.RedirectOrigin = redirectOrigin(req.RedirectURI)
	return v
}

// redirectOrigin returns the origin of a web redirect URI, or "" for another scheme (a native
// app's).
func redirectOrigin(uri string) string {
	if u, err := url.Parse(uri); err == nil && (u.Scheme == "https" || u.Scheme == "http") && u.Host != "" {
		return u.Scheme + "://" + u.Host
	}
	return ""
}

// NextOrigin returns where a sign-in that continues to next ends when next is this provider's
// sign-in step (the path the authorization endpoint gives the sign-in page): the origin of the
// live request's redirect URI, which the client registered. Otherwise, and when the request
// cannot be read, it returns "". The sign-in pages allow that origin as a form-action (see
// web.Pages.SetNextOrigin), since a user who granted the client access before goes straight
// from the sign-in form to the application.
func (p *Provider) NextOrigin(ctx context.Context, next string) string {
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || u.Path != loginPath {
		return ""
	}
	id := u.Query().Get("id")
	if !gatehouse.ValidSecret(id) {
		return ""
	}
	req, found, err := p.flows.request(ctx, id)
	if err != nil || !found || req.IsDone {
		return ""
	}
	return redirectOrigin(req.RedirectURI)
}

// grant records that the user grants scopes to the client, widening an existing grant, and
// returns the grant's creation time as the store keeps it: the tokens of this sign-in carry it,
// and stop working when the grant they were issued under is gone (revoked, perhaps given again).
func (p *Provider) grant(ctx context.Context, userID, clientID string, scopes []string) (time.Time, error) {
	now := p.now()
	g, found, err := p.grants.Grant(ctx, userID, clientID)
	if err != nil {
		return time.Time{}, err
	}
	if !found {
		g = &gatehouse.Grant{UserID: userID, ClientID: clientID, CreatedAt: now}
	} else if g.Covers(scopes) {
		return g.CreatedAt, nil
	}
	for _, sc := range scopes {
		if !slices.Contains(g.Scopes, sc) {
			g.Scopes = append(g.Scopes, sc)
		}
	}
	g.UpdatedAt = now
	if err := p.grants.SaveGrant(ctx, g); err != nil {
		return time.Time{}, err
	}
	if found {
		return g.CreatedAt, nil
	}
	// Read back what the store kept: its precision is the store's, and the checks compare
	// with what they read from it.
	g, found, err = p.grants.Grant(ctx, userID, clientID)
	if err != nil || !found {
		return time.Time{}, cmp.Or(err, error(gatehouse.ErrNotFound))
	}
	return g.CreatedAt, nil
}
