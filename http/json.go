package http

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"

	"github.com/gatehouse-auth/gatehouse"
)

// MaxBodyBytes is the largest request body accepted (64 KiB); larger bodies get 413.
const MaxBodyBytes = 64 << 10

var bufPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// writeJSON writes v as the JSON response body with the given status. API responses carry user
// data or credentials, so they are never stored by caches.
func writeJSON(w http.ResponseWriter, status int, v any) {
	buf := bufPool.Get().(*bytes.Buffer)
	buf.Reset()
	defer bufPool.Put(buf)
	if err := json.NewEncoder(buf).Encode(v); err != nil {
		// Only our own types are encoded here; failing to encode one is a programming error.
		http.Error(w, `{"error":"internal","message":"internal error"}`, http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h["Content-Type"] = jsonContentType
	if _, ok := h["Cache-Control"]; !ok {
		h["Cache-Control"] = noStore
	}
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

var (
	jsonContentType = []string{"application/json"}
	noStore         = []string{"no-store"}
)

// decodeJSON reads the request body, at most MaxBodyBytes, into v (a pointer to a struct).
// Unknown fields are ignored. It returns bad_request for malformed JSON, a wrong type (naming the
// field), a body that is not one JSON object, or trailing data; too_large for an oversized body.
func decodeJSON(w http.ResponseWriter, r *http.Request, v any) error {
	return decodeBody(w, r, v, false)
}

// decodeJSONStrict is decodeJSON for bodies whose every field changes something (PATCH): an
// unknown field is bad_request naming it, so that a misspelt field never looks like success.
func decodeJSONStrict(w http.ResponseWriter, r *http.Request, v any) error {
	return decodeBody(w, r, v, true)
}

func decodeBody(w http.ResponseWriter, r *http.Request, v any, strict bool) error {
	r.Body = http.MaxBytesReader(w, r.Body, MaxBodyBytes)
	dec := json.NewDecoder(r.Body)
	if strict {
		dec.DisallowUnknownFields()
	}
	if err := dec.Decode(v); err != nil {
		return jsonError(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return jsonError(err)
		}
		return badRequest("the body must be a single JSON object")
	}
	return nil
}

func jsonError(err error) error {
	var (
		mbe *http.MaxBytesError
		ute *json.UnmarshalTypeError
		se  *json.SyntaxError
	)
	switch {
	case errors.As(err, &mbe):
		return gatehouse.Errorf(gatehouse.ETOOLARGE, "the request body is larger than %d bytes", MaxBodyBytes)
	case errors.Is(err, io.EOF):
		return badRequest("the request body is empty; send a JSON object")
	case errors.As(err, &ute):
		if ute.Field == "" {
			return badRequest("the body must be a JSON object")
		}
		return badRequest(ute.Field + ": must be a " + jsonKind(ute.Type.Kind().String()))
	case errors.As(err, &se), errors.Is(err, io.ErrUnexpectedEOF):
		return badRequest("malformed JSON in the request body")
	case strings.HasPrefix(err.Error(), `json: unknown field "`):
		// encoding/json has no error type for it; the field name is quoted in the message.
		field := strings.TrimSuffix(strings.TrimPrefix(err.Error(), `json: unknown field "`), `"`)
		return badRequest(field + ": unknown field")
	}
	return badRequest("malformed JSON in the request body: " + strings.TrimPrefix(err.Error(), "json: "))
}

func jsonKind(k string) string {
	switch k {
	case "bool":
		return "boolean"
	case "string":
		return "string"
	case "ptr":
		return "value of the right type"
	}
	return k
}
