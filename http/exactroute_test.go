package http_test

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// The exact GET routes that ServeHTTP serves without the ServeMux answer as the mux would: an
// escaped spelling of the path reaches the same route, HEAD is served by the GET route, another
// method gets 405, and a path the mux would clean first is redirected as before.
func TestExactRoutesAnswerAsTheMux(t *testing.T) {
	h := newHarness(t, options{})
	access, _ := h.loginToken("admin", h.adminPW)
	serve := func(method, target string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(method, target, nil)
		req.Header.Set("Authorization", "Bearer "+access)
		w := httptest.NewRecorder()
		h.server.ServeHTTP(w, req)
		return w
	}
	for _, c := range []struct {
		method, target string
		want           int
	}{
		{"GET", "/api/protected", http.StatusOK},
		{"GET", "/api/%70rotected", http.StatusOK},
		{"HEAD", "/api/protected", http.StatusOK},
		{"POST", "/api/protected", http.StatusMethodNotAllowed},
		{"GET", "/api/protected/", http.StatusNotFound},
	} {
		if got := serve(c.method, c.target); got.Code != c.want {
			t.Errorf("%s %s: %d, want %d (%s)", c.method, c.target, got.Code, c.want, got.Body)
		}
	}
	if w := serve("GET", "/api//protected"); w.Code/100 != 3 || w.Header().Get("Location") != "/api/protected" {
		t.Errorf("GET /api//protected: %d to %q, want a redirect to /api/protected", w.Code, w.Header().Get("Location"))
	}
	if a, b := serve("GET", "/api/protected").Body.String(), serve("GET", "/api/%70rotected").Body.String(); a != b {
		t.Errorf("the escaped path answered %q, the plain one %q", b, a)
	}
}
