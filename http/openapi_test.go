package http_test

import (
	"bytes"
	"slices"
	"strings"
	"testing"

	"github.com/gatehouse-auth/gatehouse/docs"
	"github.com/gatehouse-auth/gatehouse/internal/apispec"
)

// TestEveryRouteIsInTheContract: every route the server registers is an operation of
// docs/openapi.yaml, and the document has no operation the server lacks.
func TestEveryRouteIsInTheContract(t *testing.T) {
	h := newHarness(t, options{})
	var routes []string
	for _, r := range h.server.Routes() {
		method, path, _ := strings.Cut(r, " ")
		routes = append(routes, method+" "+strings.TrimSuffix(path, "{$}")) // "/{$}" is "/" exactly
	}
	slices.Sort(routes)
	ops := apispec.Must(t).Operations()
	for _, r := range routes {
		if _, found := slices.BinarySearch(ops, r); !found {
			t.Errorf("the server has %s, docs/openapi.yaml does not", r)
		}
	}
	for _, op := range ops {
		if _, found := slices.BinarySearch(routes, op); !found {
			t.Errorf("docs/openapi.yaml has %s, the server does not", op)
		}
	}
	if len(routes) < 40 {
		t.Fatalf("only %d routes: the server's list looks wrong", len(routes))
	}
}

// TestServesTheContract: GET /openapi.yaml answers the embedded document.
func TestServesTheContract(t *testing.T) {
	h := newHarness(t, options{})
	r := h.do("GET", "/openapi.yaml", nil)
	if r.status != 200 || r.header.Get("Content-Type") != "application/yaml" || !bytes.Equal([]byte(r.raw), docs.OpenAPI) {
		t.Fatalf("GET /openapi.yaml: %d %v, %d bytes", r.status, r.header, len(r.raw))
	}
}
