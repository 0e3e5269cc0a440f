// Package shop is a shop demo for gatehouse (run by cmd/gatehouse-shop): a product catalog served statelessly
// (the same bytes for every visitor, with an ETag and Cache-Control: public, so any browser,
// proxy or CDN may cache it and revalidate it with 304 Not Modified) and a per-user cart served
// statefully (the session cookie is looked up in gatehouse's session store and the cart is read
// from a CartStore that lives beside the sessions).
//
// The cart is not a field of the session: gatehouse.Session has no data, and a cart is the
// shop's business, not the authentication server's. CartStore keeps one cart per user id,
// reached only through an authenticated session; MemoryCarts and SQLiteCarts (a table in
// gatehouse's own database) implement it.
//
// Forms are checked with net/http's CrossOriginProtection (Sec-Fetch-Site / Origin). They carry
// no per-session token: the catalog page, which holds the "add to cart" forms, is identical for
// everyone and publicly cacheable, so it cannot carry a secret of one session.
package shop

import (
	"bytes"
	"embed"
	"encoding/json"
	"errors"
	"html/template"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/gatehouse-auth/gatehouse"
)

//go:embed templates
var templatesFS embed.FS

// Options configure a Shop. Carts and Authenticate are required.
type Options struct {
	Carts CartStore
	// Authenticate returns who sent the request, from its session cookie (gatehouse's
	// web.Pages.AuthenticateSession). Its errors are gatehouse errors: token_missing or
	// session_expired send the browser to sign in, others are shown.
	Authenticate func(*http.Request) (gatehouse.Principal, error)
	// Prefix is where the shop is mounted (default "/shop").
	Prefix string
	// SignInURL and AccountURL are gatehouse's pages (defaults "/" and "/account"), and
	// Stylesheet its stylesheet (default "/assets/style.css").
	SignInURL, AccountURL, Stylesheet string
	// SessionStore and CartStore name the stores on the pages (such as "sqlite").
	SessionStore, CartStore string
	// CatalogMaxAge is the catalog's Cache-Control max-age (default one minute).
	CatalogMaxAge time.Duration
	Now           func() time.Time
	Logger        *slog.Logger
}

// Stats count what the shop served since it started.
type Stats struct {
	CatalogFull        uint64 // catalog answers with a body (200)
	CatalogNotModified uint64 // catalog answers 304 Not Modified
	CartPages          uint64
	SessionLookups     uint64
	CartReads          uint64
	CartWrites         uint64
}

// Shop is the demo's http.Handler, to be mounted at Options.Prefix.
type Shop struct {
	o       Options
	mux     *http.ServeMux
	cop     *http.CrossOriginProtection
	catalog staticFile
	json    staticFile
	css     staticFile

	catalogFull, catalogNotModified, cartPages, sessionLookups, cartReads, cartWrites atomic.Uint64
}

// staticFile is a response that is the same for every request.
type staticFile struct {
	body        []byte
	etag        string
	contentType string
	maxAge      int
}

var pages = parse("catalog.html", "cart.html", "how.html", "error.html")

func parse(names ...string) map[string]*template.Template {
	out := map[string]*template.Template{}
	for _, n := range names {
		out[n] = template.Must(template.ParseFS(templatesFS, "templates/layout.html", "templates/"+n))
	}
	return out
}

// New returns a shop. It renders the catalog once: its bytes, and so its ETag, change only when
// the catalog or the templates do.
func New(o Options) (*Shop, error) {
	if o.Carts == nil || o.Authenticate == nil {
		return nil, errors.New("shop: Carts and Authenticate are required")
	}
	setDefaults(&o)
	s := &Shop{o: o, mux: http.NewServeMux(), cop: http.NewCrossOriginProtection()}
	maxAge := int(o.CatalogMaxAge / time.Second)
	var buf bytes.Buffer
	err := pages["catalog.html"].ExecuteTemplate(&buf, "layout", map[string]any{
		"Title": "Catalog", "Section": "catalog", "Prefix": o.Prefix, "AccountURL": o.AccountURL,
		"Stylesheet": o.Stylesheet, "Products": Catalog, "MaxAge": maxAge, "MaxQuantity": MaxQuantity,
	})
	if err != nil {
		return nil, err
	}
	s.catalog = staticFile{body: buf.Bytes(), etag: etagOf(buf.Bytes()), contentType: "text/html; charset=utf-8", maxAge: maxAge}
	raw, _ := json.Marshal(map[string]any{"products": Catalog})
	s.json = staticFile{body: raw, etag: etagOf(raw), contentType: "application/json", maxAge: maxAge}
	css, err := templatesFS.ReadFile("templates/shop.css")
	if err != nil {
		return nil, err
	}
	s.css = staticFile{body: css, etag: etagOf(css), contentType: "text/css; charset=utf-8", maxAge: 3600}
	s.routes()
	return s, nil
}

func setDefaults(o *Options) {
	def := func(v *string, d string) {
		if *v == "" {
			*v = d
		}
	}
	def(&o.Prefix, "/shop")
	def(&o.SignInURL, "/")
	def(&o.AccountURL, "/account")
	def(&o.Stylesheet, "/assets/style.css")
	def(&o.SessionStore, "session store")
	def(&o.CartStore, "cart store")
	if o.CatalogMaxAge <= 0 {
		o.CatalogMaxAge = time.Minute
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
}

func (s *Shop) routes() {
	p := s.o.Prefix
	s.mux.HandleFunc("GET "+p+"/{$}", s.handleHow)
	s.mux.HandleFunc("GET "+p+"/catalog", s.counted(s.catalog))
	s.mux.HandleFunc("GET "+p+"/catalog.json", s.counted(s.json))
	s.mux.HandleFunc("GET "+p+"/assets/shop.css", func(w http.ResponseWriter, r *http.Request) { s.css.serve(w, r) })
	s.mux.HandleFunc("GET "+p+"/cart", s.handleCart)
	s.mux.HandleFunc("POST "+p+"/cart/add", s.form(s.handleAdd))
	s.mux.HandleFunc("POST "+p+"/cart/remove", s.form(s.handleRemove))
	s.mux.HandleFunc("POST "+p+"/cart/checkout", s.form(s.handleCheckout))
	s.mux.HandleFunc(p+"/", func(w http.ResponseWriter, r *http.Request) {
		s.renderError(w, r, http.StatusNotFound, "Not found", "There is no such page in the shop.")
	})
}

// ServeHTTP implements http.Handler.
func (s *Shop) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// Stats returns the shop's counters.
func (s *Shop) Stats() Stats {
	return Stats{
		CatalogFull: s.catalogFull.Load(), CatalogNotModified: s.catalogNotModified.Load(),
		CartPages: s.cartPages.Load(), SessionLookups: s.sessionLookups.Load(),
		CartReads: s.cartReads.Load(), CartWrites: s.cartWrites.Load(),
	}
}

// CatalogETag is the validator of the catalog page.
func (s *Shop) CatalogETag() string { return s.catalog.etag }

// counted serves a catalog representation and counts full and 304 answers.
func (s *Shop) counted(f staticFile) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if f.serve(w, r) {
			s.catalogNotModified.Add(1)
		} else {
			s.catalogFull.Add(1)
		}
	}
}

// serve answers with the file, or 304 when If-None-Match matches its ETag, and reports which.
// It reads nothing of the request but its validators, and sets no cookie, so the answer is the
// same for every user and any cache may keep it.
func (f staticFile) serve(w http.ResponseWriter, r *http.Request) (notModified bool) {
	h := w.Header()
	h.Set("Cache-Control", "public, max-age="+strconv.Itoa(f.maxAge))
	h.Set("ETag", f.etag)
	h.Set("X-Content-Type-Options", "nosniff")
	if f.contentType == "text/html; charset=utf-8" {
		h.Set("Content-Security-Policy", pageCSP)
	}
	if inm := r.Header.Get("If-None-Match"); inm != "" && etagMatches(inm, f.etag) {
		w.WriteHeader(http.StatusNotModified)
		return true
	}
	h.Set("Content-Type", f.contentType)
	h.Set("Content-Length", strconv.Itoa(len(f.body)))
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		w.Write(f.body)
	}
	return false
}

const pageCSP = "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// view is what the layout template gets.
type view struct {
	Title, Section, Prefix, AccountURL, Stylesheet string
	Flash, Error                                   string
}

func (s *Shop) view(title, section string) view {
	return view{Title: title, Section: section, Prefix: s.o.Prefix, AccountURL: s.o.AccountURL, Stylesheet: s.o.Stylesheet}
}

// render writes a private page: it carries one user's data or live counters.
func (s *Shop) render(w http.ResponseWriter, r *http.Request, status int, name string, data any) {
	var buf bytes.Buffer
	if err := pages[name].ExecuteTemplate(&buf, "layout", data); err != nil {
		s.o.Logger.ErrorContext(r.Context(), "shop template", "page", name, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "private, no-store")
	h.Set("Content-Security-Policy", pageCSP)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	if status == http.StatusServiceUnavailable {
		h.Set("Retry-After", "1")
	}
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

func (s *Shop) renderError(w http.ResponseWriter, r *http.Request, status int, heading, msg string) {
	s.render(w, r, status, "error.html", struct {
		view
		Heading, Message string
	}{s.view(heading, ""), heading, msg})
}

// renderStoreError shows a failed lookup; a store that is down is a 503, never a page that
// pretends the cart is empty.
func (s *Shop) renderStoreError(w http.ResponseWriter, r *http.Request, err error) {
	if gatehouse.ErrorCode(err) == gatehouse.EUNAVAILABLE {
		s.o.Logger.WarnContext(r.Context(), "shop: store unavailable", "err", err)
		s.renderError(w, r, http.StatusServiceUnavailable, "Try again in a moment",
			"A store is unavailable. Nothing was changed.")
		return
	}
	s.o.Logger.ErrorContext(r.Context(), "shop: internal error", "err", err)
	s.renderError(w, r, http.StatusInternalServerError, "Something went wrong", "Something went wrong on our side.")
}

// user authenticates the request by its session; without a live session it sends the browser
// to sign in (coming back to next) and returns ok=false.
func (s *Shop) user(w http.ResponseWriter, r *http.Request, next string) (gatehouse.Principal, bool) {
	s.sessionLookups.Add(1)
	p, err := s.o.Authenticate(r)
	if err == nil {
		return p, true
	}
	switch gatehouse.ErrorCode(err) {
	case gatehouse.ETOKENMISSING, gatehouse.ESESSIONEXPIRED:
		w.Header().Set("Cache-Control", "no-store")
		http.Redirect(w, r, s.o.SignInURL+"?"+url.Values{"next": {next}}.Encode(), http.StatusSeeOther)
	default:
		s.renderStoreError(w, r, err)
	}
	return gatehouse.Principal{}, false
}
