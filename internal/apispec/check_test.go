package apispec

import (
	"net/http"
	"strings"
	"testing"
)

// exchange builds an Exchange from a request line, an optional JSON body, and an answer.
func exchange(method, path, reqBody string, reqHdr http.Header, status int, respHdr http.Header, respBody string) Exchange {
	req, _ := http.NewRequest(method, "http://127.0.0.1:1"+path, strings.NewReader(reqBody))
	for k, v := range reqHdr {
		req.Header[k] = v
	}
	if reqBody != "" && req.Header.Get("Content-Type") == "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if respHdr == nil {
		respHdr = http.Header{}
	}
	var body []byte
	if reqBody != "" {
		body = []byte(reqBody)
	}
	return Exchange{Request: req, RequestBody: body, Response: &http.Response{StatusCode: status, Header: respHdr}, ResponseBody: []byte(respBody)}
}

func hdr(kv ...string) http.Header {
	h := http.Header{}
	for i := 0; i+1 < len(kv); i += 2 {
		h.Add(kv[i], kv[i+1])
	}
	return h
}

const user = `{"id":"0000000000000000000000000a","username":"alice","name":"","email":"","email_verified":false,"role":"user","groups":[],"disabled":false,"created_at":"2026-01-02T03:04:05Z"}`

var (
	jsonNoStore = hdr("Content-Type", "application/json", "Cache-Control", "no-store")
	bearerAuth  = hdr("Authorization", "Bearer x.y.z")
)

// TestCheckAccepts: exchanges the document describes pass.
func TestCheckAccepts(t *testing.T) {
	c := Must(t)
	for name, x := range map[string]Exchange{
		"protected": exchange("GET", "/api/protected", "", bearerAuth, 200, jsonNoStore,
			`{"message":"Welcome alice","user":{"id":"0000000000000000000000000a","username":"alice","name":"","email":"","role":"user"},"auth":"token"}`),
		"missing credential": exchange("GET", "/api/me", "", nil, 401,
			hdr("Content-Type", "application/json", "WWW-Authenticate", `Bearer realm="gatehouse"`), `{"error":"token_missing","message":"no credential"}`),
		"session login": exchange("POST", "/api/login", `{"username":"alice","password":"pw","mode":"session"}`, nil, 200, jsonNoStore,
			`{"user":`+user+`,"expires_at":"2026-01-02T03:04:05Z"}`),
		"bad body refused": exchange("POST", "/api/login", `{"username":5}`, nil, 400,
			hdr("Content-Type", "application/json"), `{"error":"bad_request","message":"username: must be a string"}`),
		"unknown path": exchange("GET", "/api/nope", "", nil, 404,
			hdr("Content-Type", "application/json"), `{"error":"not_found","message":"no such route"}`),
		"wrong method": exchange("PUT", "/api/login", "", nil, 405,
			hdr("Content-Type", "application/json", "Allow", "POST"), `{"error":"bad_request","message":"method PUT is not allowed here"}`),
		"logout": exchange("POST", "/api/logout", "", bearerAuth, 204, hdr("Cache-Control", "no-store"), ""),
	} {
		if err := c.Check(x); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// TestCheckRefuses: each departure from the document is reported.
func TestCheckRefuses(t *testing.T) {
	c := Must(t)
	for name, x := range map[string]Exchange{
		"undeclared status": exchange("GET", "/api/protected", "", bearerAuth, 500,
			hdr("Content-Type", "application/json"), `{"error":"internal","message":"internal error"}`),
		"extra field in the answer": exchange("GET", "/api/me", "", bearerAuth, 200, jsonNoStore,
			`{"user":`+strings.Replace(user, `"role"`, `"password_hash":"x","role"`, 1)+`,"auth":"token"}`),
		"wrong type in the answer": exchange("GET", "/api/me", "", bearerAuth, 200, jsonNoStore,
			`{"user":`+strings.Replace(user, `"disabled":false`, `"disabled":"no"`, 1)+`,"auth":"token"}`),
		"missing Cache-Control": exchange("GET", "/api/me", "", bearerAuth, 200,
			hdr("Content-Type", "application/json"), `{"user":`+user+`,"auth":"token"}`),
		"error code of another status": exchange("GET", "/api/me", "", bearerAuth, 401,
			hdr("Content-Type", "application/json", "WWW-Authenticate", "Bearer"), `{"error":"forbidden","message":"x"}`),
		"401 without a challenge": exchange("GET", "/api/me", "", bearerAuth, 401,
			hdr("Content-Type", "application/json"), `{"error":"invalid_token","message":"x"}`),
		"429 without Retry-After": exchange("POST", "/api/login", `{"username":"a","password":"b"}`, nil, 429,
			hdr("Content-Type", "application/json"), `{"error":"rate_limited","message":"wait"}`),
		"invalid request accepted": exchange("POST", "/api/admin/users", `{"username":"no spaces allowed","password":"p"}`, bearerAuth, 201, jsonNoStore,
			`{"user":`+user+`}`),
		"unauthenticated request accepted": exchange("GET", "/api/protected", "", nil, 200, jsonNoStore,
			`{"message":"Welcome alice","user":{"id":"0000000000000000000000000a","username":"alice","name":"","email":"","role":"user"},"auth":"token"}`),
		"unknown path answered": exchange("GET", "/api/nope", "", nil, 200, hdr("Content-Type", "application/json"), `{}`),
		"405 without Allow": exchange("PUT", "/api/login", "", nil, 405,
			hdr("Content-Type", "application/json"), `{"error":"bad_request","message":"no"}`),
		"body where none is declared": exchange("POST", "/api/logout", "", bearerAuth, 204, hdr("Cache-Control", "no-store"), "surprise"),
	} {
		if err := c.Check(x); err == nil {
			t.Errorf("%s: no mismatch reported", name)
		} else {
			t.Logf("%s: %.200s", name, err)
		}
	}
}
