package http

import (
	"errors"
	"net/http"

	"github.com/gatehouse-auth/gatehouse"
	"github.com/gatehouse-auth/gatehouse/internal/httpauth"
)

// StatusOf maps an application error code to its HTTP status, as in the API contract's table,
// which internal/httpauth keeps (verify/ shares it).
func StatusOf(code string) int { return httpauth.Status(code) }

// errorBody is the JSON body of an error answer written by writeJSON (as httpauth.ErrorBody).
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
// with error="invalid_token" when the request carried a bearer token or the code says a token
// was refused, a bare challenge otherwise.
//
// insufficient_user_authentication carries the step-up challenge of RFC 9470 instead: the
// credential is valid, and a sign-in with a second factor (acr "aal2") is what is needed.
func (s *Server) WriteCode(w http.ResponseWriter, r *http.Request, code, msg string) {
	if code == gatehouse.EINSUFFICIENTAUTH {
		httpauth.WriteError(w, code, msg, httpauth.StepUpChallenge("gatehouse", gatehouse.ACRMultiFactor))
		return
	}
	_, bearer := bearerToken(r)
	invalid := bearer || code == gatehouse.EINVALIDTOKEN || code == gatehouse.ETOKENEXPIRED
	httpauth.WriteError(w, code, msg, httpauth.Challenge("gatehouse", invalid))
}

// badRequest returns a bad_request error with msg.
func badRequest(msg string) error { return &gatehouse.Error{Code: gatehouse.EBADREQUEST, Message: msg} }

// isCode reports whether err carries the application error code.
func isCode(err error, code string) bool {
	var e *gatehouse.Error
	return errors.As(err, &e) && e.Code == code
}
