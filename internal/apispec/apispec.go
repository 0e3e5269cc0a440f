// Package apispec checks HTTP exchanges against gatehouse's API contract, the OpenAPI 3.1
// document docs/openapi.yaml, with kin-openapi's openapi3filter (JSON Schema 2020-12). The
// end-to-end tests send their requests through Transport, so an answer that the document does
// not describe (an undeclared status, a missing header, a body that does not match its schema)
// fails the test that got it, and so does a request that the document refuses but the server
// accepted.
package apispec

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"

	"github.com/gatehouse-auth/gatehouse/docs"
)

// Contract is the loaded API document with a router over its paths.
type Contract struct {
	doc    *openapi3.T
	router routers.Router
	errors *openapi3.Schema // the /api/ error body
}

var (
	loadOnce sync.Once
	loaded   *Contract
	errLoad  error
)

// Load parses and validates docs/openapi.yaml (once per process).
func Load() (*Contract, error) {
	loadOnce.Do(func() { loaded, errLoad = parse(docs.OpenAPI) })
	return loaded, errLoad
}

// Must returns the contract, or fails tb when the document does not load.
func Must(tb testing.TB) *Contract {
	tb.Helper()
	c, err := Load()
	if err != nil {
		tb.Fatalf("docs/openapi.yaml: %v", err)
	}
	return c
}

func parse(raw []byte) (*Contract, error) {
	ctx := context.Background()
	doc, err := openapi3.NewLoader().LoadFromData(raw)
	if err != nil {
		return nil, err
	}
	if err := doc.Validate(ctx); err != nil {
		return nil, fmt.Errorf("invalid document: %w", err)
	}
	// The servers name the default address; the tests' servers listen elsewhere. Routing by
	// path alone matches any host.
	doc.Servers = nil
	router, err := gorillamux.NewRouter(doc)
	if err != nil {
		return nil, err
	}
	errSchema := doc.Components.Schemas["Error"]
	if errSchema == nil || errSchema.Value == nil {
		return nil, errors.New("no Error schema in components")
	}
	return &Contract{doc: doc, router: router, errors: errSchema.Value}, nil
}

// Operations returns every operation of the document as "METHOD /path", sorted.
func (c *Contract) Operations() []string {
	var out []string
	for path, item := range c.doc.Paths.Map() {
		for method := range item.Operations() {
			out = append(out, method+" "+path)
		}
	}
	slices.Sort(out)
	return out
}

func init() {
	// Bodies the document declares without a JSON media type: read as text, so that their
	// status, headers and media type are still checked.
	for _, mt := range []string{"text/html", "text/css", "text/javascript", "image/svg+xml", "text/event-stream"} {
		openapi3filter.RegisterBodyDecoder(mt, openapi3filter.PlainBodyDecoder)
	}
	openapi3filter.RegisterBodyDecoder("application/jwk-set+json", openapi3filter.JSONBodyDecoder)
}

// options are the validator's settings: every status must be declared, and a security
// requirement is met when the request carries that kind of credential (whether the credential
// is good is the server's business, and its 401 is part of the contract).
var options = &openapi3filter.Options{
	IncludeResponseStatus: true,
	AuthenticationFunc:    credentialPresent,
}

func credentialPresent(_ context.Context, in *openapi3filter.AuthenticationInput) error {
	r, s := in.RequestValidationInput.Request, in.SecurityScheme
	switch {
	case s.Type == "apiKey" && s.In == "cookie":
		for _, c := range r.Cookies() {
			if c.Name == s.Name || c.Name == "__Host-"+s.Name {
				return nil
			}
		}
		return fmt.Errorf("no %s cookie", s.Name)
	case s.Type == "http":
		scheme, _, ok := strings.Cut(r.Header.Get("Authorization"), " ")
		if ok && strings.EqualFold(scheme, s.Scheme) {
			return nil
		}
		return fmt.Errorf("no %s Authorization header", s.Scheme)
	}
	return fmt.Errorf("security scheme %q is not understood by the checker", in.SecuritySchemeName)
}
