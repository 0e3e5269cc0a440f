package http

import (
	"errors"
	"net/http"

	"github.com/gatehouse-auth/gatehouse"
)

// StatusOf maps an application error code to its HTTP status, as in the API contract's table.
// This is the only place that knows the mapping.
func StatusOf(code string) int {
	switch code {
	case gatehouse.EBADREQUEST:
		return http.StatusBadRequest
	case gatehouse.EINVALIDCREDENTIALS, gatehouse.ETOKENMISSING, gatehouse.EINVALIDTOKEN,
		gatehouse.ETOKENEXPIRED, gatehouse.ESESSIONEXPIRED:
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

type errorBody struct {
	Error   string `json:"error"`
	Message string `json:"message"`
}

// writeError answers with err's code and message. Internal errors are logged with their detail
// and reach the client only as "internal error"; store failures are logged too.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	code := gatehouse.ErrorCode(err)
	msg := gatehouse.ErrorMessage(err)
	switch code {
	case gatehouse.EINTERNAL:
		s.log.ErrorContext(r.Context(), "internal error", "method", r.Method, "path", r.URL.Path, "err", err)
		msg = "internal error"
	case gatehouse.EUNAVAILABLE:
		s.log.WarnContext(r.Context(), "unavailable", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	s.WriteCode(w, r, code, msg)
}

// WriteCode writes the JSON error body for code. 401 answers carry WWW-Authenticate (RFC 6750):
// with error="invalid_token" when the request carried a bearer token, a bare challenge otherwise.
func (s *Server) WriteCode(w http.ResponseWriter, r *http.Request, code, msg string) {
	status := StatusOf(code)
	if status == http.StatusUnauthorized {
		if _, ok := bearerToken(r); ok || code == gatehouse.EINVALIDTOKEN || code == gatehouse.ETOKENEXPIRED {
			w.Header().Set("WWW-Authenticate", `Bearer realm="gatehouse", error="invalid_token"`)
		} else {
			w.Header().Set("WWW-Authenticate", `Bearer realm="gatehouse"`)
		}
	}
	if status == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", "1")
	}
	writeJSON(w, status, errorBody{Error: code, Message: msg})
}

// badRequest returns a bad_request error with msg.
func badRequest(msg string) error { return &gatehouse.Error{Code: gatehouse.EBADREQUEST, Message: msg} }

// isCode reports whether err carries the application error code.
func isCode(err error, code string) bool {
	var e *gatehouse.Error
	return errors.As(err, &e) && e.Code == code
}
