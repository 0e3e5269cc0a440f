package httpauth_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/gatehouse-auth/gatehouse"
	"github.com/gatehouse-auth/gatehouse/internal/httpauth"
)

func TestParseBearer(t *testing.T) {
	for h, want := range map[string]string{
		"Bearer abc":    "abc",
		"bearer   abc":  "abc",
		"BEARER a.b-c_": "a.b-c_",
		"Bearer":        "",
		"Bearer ":       "",
		"Bearerabc":     "",
		"Basic abc":     "",
		"Bearer a b":    "",
		"Bearer a\tb":   "",
		"Bearer\tabc":   "",
		"":              "",
	} {
		got, ok := httpauth.ParseBearer(h)
		if got != want || ok != (want != "") {
			t.Errorf("ParseBearer(%q) = %q, %v; want %q", h, got, ok, want)
		}
	}
	r := httptest.NewRequest("GET", "/", nil)
	if _, present, _ := httpauth.Bearer(r); present {
		t.Error("a request without Authorization has a bearer header")
	}
	r.Header.Set("Authorization", "Basic x")
	if _, present, ok := httpauth.Bearer(r); !present || ok {
		t.Errorf("Basic: present %v, ok %v; want true, false", present, ok)
	}
}

func TestChallenge(t *testing.T) {
	for _, c := range []struct {
		realm   string
		invalid bool
		want    string
	}{
		{"", false, `Bearer`},
		{"", true, `Bearer error="invalid_token"`},
		{"gatehouse", false, `Bearer realm="gatehouse"`},
		{"gatehouse", true, `Bearer realm="gatehouse", error="invalid_token"`},
	} {
		if got := httpauth.Challenge(c.realm, c.invalid); got != c.want {
			t.Errorf("Challenge(%q, %v) = %s, want %s", c.realm, c.invalid, got, c.want)
		}
	}
}

func TestWriteError(t *testing.T) {
	for _, c := range []struct {
		code                    string
		status                  int
		challenge, retry, cache string
	}{
		{gatehouse.EINVALIDTOKEN, 401, `Bearer error="invalid_token"`, "", "no-store"},
		{gatehouse.EUNAVAILABLE, 503, "", "1", "no-store"},
		{gatehouse.EFORBIDDEN, 403, "", "", "no-store"},
		{"no_such_code", 500, "", "", "no-store"},
	} {
		w := httptest.NewRecorder()
		w.Header().Set("Cache-Control", "public, max-age=60")
		httpauth.WriteError(w, c.code, "a <message>", `Bearer error="invalid_token"`)
		h := w.Header()
		if w.Code != c.status || h.Get("WWW-Authenticate") != c.challenge || h.Get("Retry-After") != c.retry ||
			h.Get("Cache-Control") != c.cache || h.Get("Content-Type") != "application/json" {
			t.Errorf("%s: %d %v", c.code, w.Code, h)
		}
		if want := `{"error":"` + c.code + `","message":"a \u003cmessage\u003e"}` + "\n"; w.Body.String() != want {
			t.Errorf("%s: body %s, want %s", c.code, w.Body, want)
		}
	}
	if httpauth.Status(gatehouse.ERATELIMITED) != http.StatusTooManyRequests {
		t.Error("rate_limited is not 429")
	}
}
