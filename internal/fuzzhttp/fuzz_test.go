package fuzzhttp_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"runtime"
	"strings"
	"testing"

	"github.com/gatehouse-auth/gatehouse"
)

// The fuzz targets below drive the real handler stack (routing, metrics, throttles,
// authentication, JSON decoding, the stores) with hostile input. Whatever the input: no panic,
// no 500, an error body from the contract's table, and a bounded amount of memory allocated per
// request. Starting inputs live in testdata/fuzz/<target>; .ci/run fuzzes each target for a few seconds.

// maxAllocPerRequest bounds the bytes one fuzzed request may allocate (argon2 with the test
// parameters takes 64 KiB; a body is at most 64 KiB).
const maxAllocPerRequest = 8 << 20

var knownCodes = map[string]int{
	gatehouse.EBADREQUEST: 400, gatehouse.EINVALIDCREDENTIALS: 401, gatehouse.ETOKENMISSING: 401,
	gatehouse.EINVALIDTOKEN: 401, gatehouse.ETOKENEXPIRED: 401, gatehouse.ESESSIONEXPIRED: 401,
	gatehouse.EFORBIDDEN: 403, gatehouse.ENOTFOUND: 404, gatehouse.ECONFLICT: 409, gatehouse.ETOOLARGE: 413, gatehouse.EMEDIATYPE: 415,
	gatehouse.ERATELIMITED: 429, gatehouse.EUNAVAILABLE: 503,
}

// fuzzHarness is a server for fuzzing and an admin's access token.
func fuzzHarness(f *testing.F) (*server, string) {
	h := newServer(f, nil)
	return h, h.login(f, "admin", h.adminPW, "token")
}

// proxied trusts 127.0.0.1 and 10.0.0.0/8 as proxies.
var proxied = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32"), netip.MustParsePrefix("10.0.0.0/8")}

// serveChecked runs req through the handler and checks the answer; it returns the recorder.
func serveChecked(t *testing.T, h *server, req *http.Request) *httptest.ResponseRecorder {
	t.Helper()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	w := httptest.NewRecorder()
	h.h.ServeHTTP(w, req)
	runtime.ReadMemStats(&after)
	if d := after.TotalAlloc - before.TotalAlloc; d > maxAllocPerRequest {
		t.Fatalf("%s %s allocated %d bytes", req.Method, req.URL.Path, d)
	}
	if w.Code >= 500 && w.Code != http.StatusServiceUnavailable || w.Code < 200 {
		t.Fatalf("%s %s: status %d: %s", req.Method, req.URL.Path, w.Code, w.Body)
	}
	if w.Code >= 400 {
		var e struct{ Error, Message string }
		if err := json.Unmarshal(w.Body.Bytes(), &e); err != nil {
			t.Fatalf("error body is not JSON: %q", w.Body)
		}
		if status, ok := knownCodes[e.Error]; !ok || e.Message == "" || (status != w.Code && w.Code != 405) {
			t.Fatalf("status %d with error %q, message %q", w.Code, e.Error, e.Message)
		}
	}
	return w
}

// FuzzAuthorizationHeader: any Authorization header on a protected route is a 401 (or 413 for an
// oversized token, 429 past the failure budget), never a 200 unless it is the valid bearer token.
func FuzzAuthorizationHeader(f *testing.F) {
	h, access := fuzzHarness(f)
	for _, s := range []string{"Bearer " + access, "bearer  " + access, "Bearer " + access + " ", "Basic YWRtaW46YWRtaW4=",
		"Bearer", "Bearer ", "Bearer\t" + access, "Bearer " + access + "." + access, "Token " + access, "\x00",
		"Bearer " + strings.Repeat("a.", 5000), "BEARER " + access} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		req := httptest.NewRequest("GET", "/api/protected", nil)
		req.Header["Authorization"] = []string{v}
		w := serveChecked(t, h, req)
		if w.Code == 200 && !strings.HasSuffix(v, access) {
			t.Fatalf("authenticated with %q", v)
		}
		switch w.Code {
		case 200, 401, 413, 429:
		default:
			t.Fatalf("status %d for %q", w.Code, v)
		}
	})
}

// FuzzSessionCookie: any Cookie header authenticates nobody unless it carries the real session
// id, and answers 401 (or 429 past the failure budget).
func FuzzSessionCookie(f *testing.F) {
	h, _ := fuzzHarness(f)
	good := h.login(f, "admin", h.adminPW, "session")
	for _, s := range []string{good, good + "; other=1", "a=b; " + good, `gatehouse_session="` + strings.SplitN(good, "=", 2)[1] + `"`,
		"gatehouse_session=", "gatehouse_session", "gatehouse_session=" + gatehouse.NewSecret(), ";;;;", "gatehouse_session=%00",
		"gatehouse_session=" + strings.Repeat("A", 4096), "GATEHOUSE_SESSION=" + strings.SplitN(good, "=", 2)[1]} {
		f.Add(s)
	}
	secret := strings.SplitN(good, "=", 2)[1]
	f.Fuzz(func(t *testing.T, v string) {
		req := httptest.NewRequest("GET", "/api/protected", nil)
		req.Header["Cookie"] = []string{v}
		w := serveChecked(t, h, req)
		if w.Code == 200 && !strings.Contains(v, secret) {
			t.Fatalf("authenticated with cookie %q", v)
		}
		switch w.Code {
		case 200, 401, 429:
		default:
			t.Fatalf("status %d for %q", w.Code, v)
		}
	})
}

// jsonRoutes are the routes that take a JSON body; the fuzzer picks one with its first input.
var jsonRoutes = []struct {
	method, path string
	admin        bool
}{
	{"POST", "/api/login", false},
	{"POST", "/api/register", false},
	{"POST", "/api/token/refresh", false},
	{"POST", "/api/admin/users", true},
	{"PATCH", "/api/admin/users/{target}", true},
}

// FuzzJSONBody sends arbitrary bodies to every route that reads JSON.
func FuzzJSONBody(f *testing.F) {
	h, access := fuzzHarness(f)
	target := h.addUser(f, "target")
	for i := range jsonRoutes {
		for _, b := range []string{
			`{"username":"admin","password":"x","mode":"session"}`, `{"username":"u","password":"correct horse battery staple"}`,
			`{"refresh_token":"` + gatehouse.NewSecret() + `"}`, `{"role":"admin","disabled":true,"password":"aaaaaaaaaaaaaaaa"}`,
			`{"username":1}`, `[]`, `null`, `{"a":` + strings.Repeat("[", 3000) + `}`, `{"username":"a"}{}`, "\xff", "",
			`{"password":"` + strings.Repeat("p", 2000) + `"}`, `{"role":"root"}`, `{"disabled":"yes"}`,
		} {
			f.Add(uint8(i), []byte(b))
		}
	}
	f.Fuzz(func(t *testing.T, route uint8, body []byte) {
		rt := jsonRoutes[int(route)%len(jsonRoutes)]
		req := httptest.NewRequest(rt.method, strings.Replace(rt.path, "{target}", target.ID, 1), strings.NewReader(string(body)))
		req.Header.Set("Content-Type", "application/json")
		if rt.admin {
			req.Header.Set("Authorization", "Bearer "+access)
		}
		w := serveChecked(t, h, req)
		if w.Code < 300 {
			var v map[string]any
			if err := json.Unmarshal(w.Body.Bytes(), &v); err != nil {
				t.Fatalf("success body is not a JSON object: %q", w.Body)
			}
		}
		io.Copy(io.Discard, w.Body)
	})
}

// FuzzForwardedFor: with trusted proxies, any X-Forwarded-For header still yields a login answer
// (never a 500), and a session records a parseable address.
func FuzzForwardedFor(f *testing.F) {
	h := newServer(f, proxied)
	for _, s := range []string{"203.0.113.5", "6.6.6.6, 203.0.113.5, 10.1.2.3", "garbage, 10.1.2.3", "[2001:db8::1]:443",
		",,,", "10.0.0.1, 10.0.0.2", "::ffff:10.0.0.1", "fe80::1%eth0", strings.Repeat("1.1.1.1,", 500)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		req := httptest.NewRequest("POST", "/api/login", strings.NewReader(`{"username":"nobody","password":"some password here"}`))
		req.Header.Set("Content-Type", "application/json")
		req.RemoteAddr = "127.0.0.1:5000"
		req.Header["X-Forwarded-For"] = []string{v}
		w := serveChecked(t, h, req)
		if w.Code != 401 && w.Code != 429 {
			t.Fatalf("status %d", w.Code)
		}
	})
}
