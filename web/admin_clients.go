package web

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/gatehouse-auth/gatehouse"
)

// The admin pages of OpenID Connect clients (the applications that sign users in through
// gatehouse): register one, change it, give it a new secret, delete it. Each form calls the
// same use case as the matching admin API request (POST, PATCH, DELETE /api/admin/clients and
// POST /api/admin/clients/{id}/secret), so the rules, the messages and the audit events are
// the API's. A secret is shown once, on the page that answers the registration or rotation
// (never in a URL, never logged, never cached: every page is no-store).

// clientFields are the form fields named like the API's JSON fields, so that a validation
// message ("redirect_uris: ...") lands next to its field.
var clientFields = []string{"name", "redirect_uris", "post_logout_redirect_uris", "scopes", "backchannel_logout_uri",
	"id_token_signed_response_alg", "type", "first_party"}

// scopeLabels say what each scope of gatehouse.ClientScopes lets an application learn.
var scopeLabels = map[string]string{
	gatehouse.ScopeOpenID:        "sign users in (required)",
	gatehouse.ScopeProfile:       "their username and name",
	gatehouse.ScopeEmail:         "their e-mail address",
	gatehouse.ScopeGroups:        "their groups",
	gatehouse.ScopeOfflineAccess: "a refresh token, to keep access while they are away",
}

// clientInput is the client form as posted: the text areas as typed, so that a form with a
// mistake comes back as it was sent.
type clientInput struct {
	Name, RedirectURIs, PostLogoutURIs, Backchannel, Alg string
	// Type is "confidential" or "public" (registration only: it cannot change).
	Type       string
	FirstParty bool
	Scopes     []string
}

// readClientInput reads the client form; errs holds the mistakes in the form itself (the
// client's rules are checked by gatehouse.NewClient and Client.Patched). register says
// whether the form has the type choice.
func readClientInput(f url.Values, register bool) (in clientInput, errs map[string]string) {
	in = clientInput{Name: f.Get("name"), RedirectURIs: f.Get("redirect_uris"), PostLogoutURIs: f.Get("post_logout_redirect_uris"),
		Backchannel: strings.TrimSpace(f.Get("backchannel_logout_uri")), Alg: f.Get("id_token_signed_response_alg"),
		Type: f.Get("type"), Scopes: f["scopes"]}
	errs = map[string]string{}
	switch f.Get("first_party") {
	case "":
	case "yes":
		in.FirstParty = true
	default:
		errs["first_party"] = `Must be "yes" when ticked.`
	}
	// An unticked form would mean "every scope" to the API; on a form it means a mistake.
	if len(in.Scopes) == 0 {
		errs["scopes"] = `Tick the scopes the application may ask for, "openid" among them.`
	}
	if register && in.Type != "confidential" && in.Type != "public" {
		errs["type"] = "Choose confidential or public."
	}
	return in, errs
}

// lines splits a text area into its non-empty lines, without surrounding spaces.
func lines(s string) []string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	return out
}

func (in clientInput) spec() gatehouse.ClientSpec {
	return gatehouse.ClientSpec{Name: in.Name, RedirectURIs: lines(in.RedirectURIs), Public: in.Type == "public",
		FirstParty: in.FirstParty, Scopes: in.Scopes, PostLogoutRedirectURIs: lines(in.PostLogoutURIs),
		BackchannelLogoutURI: in.Backchannel, IDTokenAlg: in.Alg}
}

// patch sets every field of the change form: the form shows them all.
func (in clientInput) patch() gatehouse.ClientPatch {
	uris, logout, scopes := lines(in.RedirectURIs), lines(in.PostLogoutURIs), in.Scopes
	return gatehouse.ClientPatch{Name: &in.Name, RedirectURIs: &uris, FirstParty: &in.FirstParty, Scopes: &scopes,
		PostLogoutRedirectURIs: &logout, BackchannelLogoutURI: &in.Backchannel, IDTokenAlg: &in.Alg}
}

// inputOf is the change form of a stored client.
func inputOf(c *gatehouse.Client) clientInput {
	typ := "confidential"
	if c.Public {
		typ = "public"
	}
	return clientInput{Name: c.Name, RedirectURIs: strings.Join(c.RedirectURIs, "\n"), PostLogoutURIs: strings.Join(c.PostLogoutRedirectURIs, "\n"),
		Backchannel: c.BackchannelLogoutURI, Alg: c.IDTokenAlg, Type: typ, FirstParty: c.FirstParty, Scopes: c.Scopes}
}

// newClientInput is the empty registration form: a confidential client with the scopes the
// API gives when none are named (all of them).
func newClientInput() clientInput {
	return clientInput{Type: "confidential", Scopes: gatehouse.ClientScopes}
}

// addRuleError puts the client rule that err breaks next to its field, unless the form's own
// check already said something there.
func addRuleError(errs map[string]string, err error) {
	if err == nil {
		return
	}
	if name, msg := fieldError(err, clientFields...); name != "" && errs[name] == "" {
		errs[name] = msg
	}
}

// clientFormView is the "clientform" template: the fields of the registration and change forms.
type clientFormView struct {
	Name, RedirectURIs, PostLogoutURIs, Backchannel fieldView
	// WithType shows the confidential/public choice (registration only).
	WithType                                          bool
	Public                                            bool
	FirstParty                                        bool
	Scopes                                            []scopeChoice
	Alg                                               string
	Algs                                              []string
	TypeError, FirstPartyError, ScopesError, AlgError string
	FormError                                         string
}

type scopeChoice struct {
	Value, Label string
	Checked      bool
}

func clientForm(in clientInput, errs map[string]string, formErr string, register bool) clientFormView {
	v := clientFormView{WithType: register, Public: in.Type == "public", FirstParty: in.FirstParty, Alg: in.Alg,
		Algs: gatehouse.IDTokenAlgs, TypeError: errs["type"], FirstPartyError: errs["first_party"],
		ScopesError: errs["scopes"], AlgError: errs["id_token_signed_response_alg"], FormError: formErr}
	v.Name = field("name", "Name", "text", in.Name, errs).id("client-").auto("off").required().
		hint("Shown to users on the consent page.")
	v.RedirectURIs = field("redirect_uris", "Redirect URIs", "textarea", in.RedirectURIs, errs).id("client-").required().
		hint("One per line, compared exactly. https, or http on 127.0.0.1, [::1] or localhost.")
	v.PostLogoutURIs = field("post_logout_redirect_uris", "Post-logout redirect URIs (optional)", "textarea", in.PostLogoutURIs, errs).id("client-").
		hint("One per line: where the application may send users back after signing out.")
	v.Backchannel = field("backchannel_logout_uri", "Back-channel logout URI (optional)", "url", in.Backchannel, errs).id("client-").auto("off").
		hint("Receives a signed logout token when a user of the application signs out.")
	for _, sc := range gatehouse.ClientScopes {
		v.Scopes = append(v.Scopes, scopeChoice{Value: sc, Label: scopeLabels[sc], Checked: slices.Contains(in.Scopes, sc)})
	}
	return v
}

// handleAdminRegisterClientPage registers a client as POST /api/admin/clients does. A public
// client's page follows; a confidential client's secret is shown on the answer, once.
func (s *Pages) handleAdminRegisterClientPage(w http.ResponseWriter, r *http.Request, p *pageReq) {
	in, errs := readClientInput(r.PostForm, true)
	if len(errs) > 0 {
		_, _, err := gatehouse.NewClient(in.spec(), time.Now()) // the rules only; nothing is kept
		addRuleError(errs, err)
		s.renderAdminWith(w, r, p, http.StatusBadRequest, adminForms{client: ptr(clientForm(in, errs, "", true))})
		return
	}
	c, secret, err := s.authn.RegisterClient(r.Context(), p.user().UserID, in.spec(), s.client(r))
	if err != nil {
		s.pageFormFailed(w, r, err, func(status int, _ map[string]string, formErr string) {
			errs := map[string]string{}
			if name, msg := fieldError(err, clientFields...); name != "" {
				errs[name], formErr = msg, ""
			}
			s.renderAdminWith(w, r, p, status, adminForms{client: ptr(clientForm(in, errs, formErr, true))})
		})
		return
	}
	s.log.InfoContext(r.Context(), "client registered", "client_id", c.ID, "public", c.Public, "by", p.user().UserID)
	if secret == "" {
		redirect(w, r, "/admin/clients/"+c.ID+"?msg=client-registered")
		return
	}
	v := clientView(c, inputOf(c), nil, "")
	v.Secret, v.NewSecret = secret, "registered"
	s.renderAdminClient(w, r, p, http.StatusOK, v)
}

// adminClientView is the page of one client.
type adminClientView struct {
	C    *gatehouse.Client
	Form clientFormView
	// Secret is the client's secret, shown once: on the answer to the registration or to the
	// rotation (NewSecret says which: "registered" or "rotated").
	Secret, NewSecret        string
	RotateError, DeleteError string
}

func clientView(c *gatehouse.Client, in clientInput, errs map[string]string, formErr string) adminClientView {
	return adminClientView{C: c, Form: clientForm(in, errs, formErr, false)}
}

func (s *Pages) renderAdminClient(w http.ResponseWriter, r *http.Request, p *pageReq, status int, v adminClientView) {
	d := s.newPageData(p, v.C.Name, "admin", v)
	switch {
	case v.NewSecret == "registered":
		d.Flash = "The application is registered."
	case v.NewSecret == "rotated":
		d.Flash = "The application has a new secret; the old one no longer works."
	case status == http.StatusOK:
		d.Flash = flash(r)
	}
	s.render(w, r, status, "admin_client.html", d)
}

// pageClient loads the client in the URL; an unknown or malformed id shows the not-found page.
func (s *Pages) pageClient(w http.ResponseWriter, r *http.Request) (*gatehouse.Client, bool) {
	c, err := s.authn.GetClient(r.Context(), r.PathValue("id"))
	if err != nil {
		s.renderError(w, r, err)
		return nil, false
	}
	return c, true
}

func (s *Pages) handleAdminClientPage(w http.ResponseWriter, r *http.Request, p *pageReq) {
	if c, ok := s.pageClient(w, r); ok {
		s.renderAdminClient(w, r, p, http.StatusOK, clientView(c, inputOf(c), nil, ""))
	}
}

// handleAdminUpdateClientPage changes a client as PATCH /api/admin/clients/{id} does, with
// every field of the form.
func (s *Pages) handleAdminUpdateClientPage(w http.ResponseWriter, r *http.Request, p *pageReq) {
	c, ok := s.pageClient(w, r)
	if !ok {
		return
	}
	in, errs := readClientInput(r.PostForm, false)
	if len(errs) > 0 {
		_, err := c.Patched(in.patch()) // the rules only; nothing is stored
		addRuleError(errs, err)
		s.renderAdminClient(w, r, p, http.StatusBadRequest, clientView(c, in, errs, ""))
		return
	}
	updated, err := s.authn.UpdateClient(r.Context(), p.user().UserID, c.ID, in.patch(), s.client(r))
	if err != nil {
		if isCode(err, gatehouse.ENOTFOUND) { // deleted meanwhile
			s.renderError(w, r, err)
			return
		}
		s.pageFormFailed(w, r, err, func(status int, _ map[string]string, formErr string) {
			errs := map[string]string{}
			if name, msg := fieldError(err, clientFields...); name != "" {
				errs[name], formErr = msg, ""
			}
			s.renderAdminClient(w, r, p, status, clientView(c, in, errs, formErr))
		})
		return
	}
	s.log.InfoContext(r.Context(), "client updated", "client_id", updated.ID, "by", p.user().UserID)
	redirect(w, r, "/admin/clients/"+updated.ID+"?msg=client-updated")
}

// handleAdminRotateClientSecretPage gives a confidential client a new secret as POST
// /api/admin/clients/{id}/secret does, and shows it once.
func (s *Pages) handleAdminRotateClientSecretPage(w http.ResponseWriter, r *http.Request, p *pageReq) {
	c, ok := s.pageClient(w, r)
	if !ok {
		return
	}
	if r.PostForm.Get("confirm") != "yes" {
		v := clientView(c, inputOf(c), nil, "")
		v.RotateError = "Tick the box to confirm the new secret."
		s.renderAdminClient(w, r, p, http.StatusBadRequest, v)
		return
	}
	secret, err := s.authn.RotateClientSecret(r.Context(), p.user().UserID, c.ID, s.client(r))
	if err != nil {
		if isCode(err, gatehouse.ENOTFOUND) {
			s.renderError(w, r, err)
			return
		}
		s.pageFormFailed(w, r, err, func(status int, _ map[string]string, formErr string) {
			v := clientView(c, inputOf(c), nil, "")
			v.RotateError = formErr
			s.renderAdminClient(w, r, p, status, v)
		})
		return
	}
	s.log.InfoContext(r.Context(), "client secret rotated", "client_id", c.ID, "by", p.user().UserID)
	v := clientView(c, inputOf(c), nil, "")
	v.Secret, v.NewSecret = secret, "rotated"
	s.renderAdminClient(w, r, p, http.StatusOK, v)
}

// handleAdminDeleteClientPage deletes a client (and the users' grants to it) as DELETE
// /api/admin/clients/{id} does, once the box is ticked.
func (s *Pages) handleAdminDeleteClientPage(w http.ResponseWriter, r *http.Request, p *pageReq) {
	c, ok := s.pageClient(w, r)
	if !ok {
		return
	}
	if r.PostForm.Get("confirm") != "yes" {
		v := clientView(c, inputOf(c), nil, "")
		v.DeleteError = "Tick the box to confirm the deletion."
		s.renderAdminClient(w, r, p, http.StatusBadRequest, v)
		return
	}
	if err := s.authn.DeleteClient(r.Context(), p.user().UserID, c.ID, s.client(r)); err != nil {
		s.renderError(w, r, err)
		return
	}
	s.log.InfoContext(r.Context(), "client deleted", "client_id", c.ID, "by", p.user().UserID)
	redirect(w, r, "/admin?msg=client-deleted")
}

func ptr[T any](v T) *T { return &v }
