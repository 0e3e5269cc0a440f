package http

import (
	"encoding/json"
	"math/rand/v2"
	"net/http/httptest"
	"testing"

	"github.com/gatehouse-auth/gatehouse"
)

func TestAppendJSONStringMatchesEncodingJSON(t *testing.T) {
	cases := []string{"", "plain", `q"uote\back`, "<script>&amp;</script>", "\x00\x01\x1f\x7f", "tab\tnl\nret\r\b\f",
		"héllo wörld", "emoji 😀", "\u2028\u2029", "bad \xff\xfe utf8", "\xe2\x82", "mixed\x00é<\u2028"}
	r := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 2000; i++ {
		b := make([]byte, r.IntN(20))
		for j := range b {
			b[j] = byte(r.IntN(256))
		}
		cases = append(cases, string(b))
	}
	for _, s := range cases {
		want, _ := json.Marshal(s)
		if got := appendJSONString(nil, s); string(got) != string(want) {
			t.Fatalf("appendJSONString(%q) = %s, want %s", s, got, want)
		}
	}
}

func FuzzAppendJSONString(f *testing.F) {
	f.Add("<a href=\"x\">\u2028\xff")
	f.Fuzz(func(t *testing.T, s string) {
		want, _ := json.Marshal(s)
		if got := appendJSONString(nil, s); string(got) != string(want) {
			t.Fatalf("appendJSONString(%q) = %s, want %s", s, got, want)
		}
	})
}

func TestWriteProtectedMatchesEncodingJSON(t *testing.T) {
	a := &gatehouse.Auth{Method: "session", Principal: gatehouse.Principal{
		UserID: "id1", Username: "<b>o\"b</b>", Name: "Bö\u2028b", Email: "b@example.com", Role: gatehouse.RoleAdmin}}
	w := httptest.NewRecorder()
	writeProtected(w, a)
	want, _ := json.Marshal(protectedResponse{Message: "Welcome " + a.Username, User: a.Principal, Auth: a.Method})
	if got := w.Body.String(); got != string(want)+"\n" {
		t.Fatalf("writeProtected = %s, want %s", got, want)
	}
	if w.Header().Get("Cache-Control") != "no-store" || w.Header().Get("Content-Type") != "application/json" {
		t.Fatalf("headers %v", w.Header())
	}
}
