package http

import (
	"context"
	"net/http"
	"time"

	"github.com/gatehouse-auth/gatehouse"
	"github.com/gatehouse-auth/gatehouse/docs"
)

// handleJWKS publishes the public verification keys. Verifiers may cache them briefly; a new
// key is published before it signs anything that they would need it for.
func (s *Server) handleJWKS(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Type", "application/jwk-set+json")
	h.Set("Cache-Control", "public, max-age=300")
	corsPublic(w)
	w.Write(s.Authn.Tokens().Keys().JWKS())
}

func (s *Server) handleHealth(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// readyTimeout bounds the store checks of /readyz.
const readyTimeout = 2 * time.Second

// handleReady answers 200 when every store answers, else 503 unavailable.
func (s *Server) handleReady(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), readyTimeout)
	defer cancel()
	for _, check := range s.Ready {
		if err := check(ctx); err != nil {
			s.writeError(w, r, gatehouse.Unavailable("readyz", err))
			return
		}
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
}

// handleOpenAPI serves the API contract (docs/openapi.yaml) that the server was built with.
func handleOpenAPI(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Type", "application/yaml")
	h.Set("Cache-Control", "public, max-age=3600")
	w.Write(docs.OpenAPI)
}
