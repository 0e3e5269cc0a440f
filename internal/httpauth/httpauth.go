// Package httpauth is the HTTP side of gatehouse's authentication protocol that the server
// (http/) and the SDK for other services (verify/) share: the bearer token of an Authorization
// header (RFC 6750), the WWW-Authenticate challenge of a 401, and the JSON error answer with the
// status of its application error code.
package httpauth

import (
	"encoding/json"
	"net/http"
	"strings"

	"github.com/gatehouse-auth/gatehouse"
)

// Bearer returns the token of r's Authorization header: present is false without the header,
// ok is false when it is not a well-formed bearer credential (see ParseBearer).
func Bearer(r *http.Request) (tok string, present, ok bool) {
	v := r.Header["Authorization"]
	if len(v) == 0 {
		return "", false, false
	}
	tok, ok = ParseBearer(v[0])
	return tok, true, ok
}

// ParseBearer parses the value of an Authorization header as "Bearer <token>" (RFC 6750
// section 2.1: case-insensitive scheme, one or more spaces). The token must be non-empty and
// hold no space or tab.
func ParseBearer(h string) (string, bool) {
	const scheme = "bearer"
	if len(h) <= len(scheme) || !strings.EqualFold(h[:len(scheme)], scheme) || h[len(scheme)] != ' ' {
		return "", false
	}
	tok := strings.TrimLeft(h[len(scheme):], " ")
	if tok == "" || strings.IndexByte(tok, ' ') >= 0 || strings.IndexByte(tok, '\t') >= 0 {
		return "", false
	}
	return tok, true
}

// Challenge returns the WWW-Authenticate value of a 401 (RFC 6750 section 3): with
// error="invalid_token" when the request presented a token that was refused, a bare challenge
// otherwise (a request without credentials gets no error code). realm "" leaves the realm out.
func Challenge(realm string, invalidToken bool) string {
	c := "Bearer"
	if realm != "" {
		c += ` realm="` + realm + `"`
		if invalidToken {
			c += ","
		}
	}
	if invalidToken {
		c += ` error="invalid_token"`
	}
	return c
}

// StepUpChallenge returns the WWW-Authenticate value of a 401 insufficient_user_authentication
// (RFC 9470 section 3): the error, and the assurance level a new sign-in must reach.
func StepUpChallenge(realm, acr string) string {
	c := "Bearer "
	if realm != "" {
		c += `realm="` + realm + `", `
	}
	return c + `error="insufficient_user_authentication", acr_values="` + acr + `"`
}

// Status maps an application error code to its HTTP status, as in the API contract's table
// (docs/api.md). This is the only place that knows the mapping; an unknown code is a 500.
func Status(code string) int {
	switch code {
	case gatehouse.EBADREQUEST:
		return http.StatusBadRequest
	case gatehouse.EINVALIDCREDENTIALS, gatehouse.ETOKENMISSING, gatehouse.EINVALIDTOKEN,
		gatehouse.ETOKENEXPIRED, gatehouse.ESESSIONEXPIRED, gatehouse.EINSUFFICIENTAUTH:
		return http.StatusUnauthorized
	case gatehouse.EFORBIDDEN:
		return http.StatusForbidden
	case gatehouse.ENOTFOUND:
		return http.StatusNotFound
	case gatehouse.ECONFLICT:
		return http.StatusConflict
	case gatehouse.ETOOLARGE:
		return http.StatusRequestEntityTooLarge
	case gatehouse.EMEDIATYPE:
		return http.StatusUnsupportedMediaType
	case gatehouse.ERATELIMITED:
		return http.StatusTooManyRequests
	case gatehouse.EUNAVAILABLE:
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

// ErrorBody is the JSON body of every error answer.
type ErrorBody struct {
	Error   string `json:"error"`
	Message string `json:"message"`
}

// WriteError answers with the JSON error body of code and msg and the status of code. A 401
// carries WWW-Authenticate: challenge, a 503 Retry-After: 1. The answer is never stored by caches.
func WriteError(w http.ResponseWriter, code, msg, challenge string) {
	status := Status(code)
	h := w.Header()
	switch status {
	case http.StatusUnauthorized:
		h.Set("WWW-Authenticate", challenge)
	case http.StatusServiceUnavailable:
		h.Set("Retry-After", "1")
	}
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(ErrorBody{Error: code, Message: msg})
}
