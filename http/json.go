package http

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/gatehouse-auth/gatehouse"
)

// MaxBodyBytes is the largest request body accepted (64 KiB); larger bodies get 413.
const MaxBodyBytes = 64 << 10

// bufPool: BenchmarkRefresh/rotate-no-grace, 196 allocations (17.7 KB) per refresh with it, 200
// (20.5 KB) without.
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
// Unknown fields are ignored. It returns unsupported_media_type when the body is not declared
// application/json (see requireJSON); bad_request for a body that is not UTF-8, malformed JSON,
// a wrong type (naming the field), a body that is not one JSON object, or trailing data;
// too_large for an oversized body.
//
// The body is read whole before decoding so that it can be checked as UTF-8 (RFC 8259 section
// 8.1): encoding/json would silently turn invalid bytes into U+FFFD, so that different byte
// strings (two passwords, say) would decode to the same text.
func decodeJSON(w http.ResponseWriter, r *http.Request, v any) error {
	return decodeBody(w, r, v, false)
}

// decodeJSONStrict is decodeJSON for bodies whose every field changes something (PATCH): an
// unknown field is bad_request naming it, so that a misspelt field never looks like success.
func decodeJSONStrict(w http.ResponseWriter, r *http.Request, v any) error {
	return decodeBody(w, r, v, true)
}

func decodeBody(w http.ResponseWriter, r *http.Request, v any, strict bool) error {
	if err := requireJSON(r); err != nil {
		return err
	}
	r.Body = http.MaxBytesReader(w, r.Body, MaxBodyBytes)
	buf := bufPool.Get().(*bytes.Buffer)
	buf.Reset()
	defer bufPool.Put(buf) // the decoded strings are copies: nothing keeps the buffer
	if _, err := buf.ReadFrom(r.Body); err != nil {
		return jsonError(err)
	}
	if !utf8.Valid(buf.Bytes()) {
		return errNotUTF8
	}
	dec := json.NewDecoder(bytes.NewReader(buf.Bytes()))
	if strict {
		dec.DisallowUnknownFields()
	}
	if err := dec.Decode(v); err != nil {
		return jsonError(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return badRequest("the body must be a single JSON object")
	}
	return nil
}

var (
	errNotUTF8    = badRequest("the request body is not valid UTF-8 (JSON text must be UTF-8)")
	errNotJSON    = gatehouse.Errorf(gatehouse.EMEDIATYPE, `the body must be JSON, sent with "Content-Type: application/json"`)
	errNotUTF8Set = gatehouse.Errorf(gatehouse.EMEDIATYPE, `the JSON body must be UTF-8: the only charset accepted is "utf-8"`)
)

// requireJSON accepts a request whose Content-Type is application/json, optionally with
// charset=utf-8 (any other charset is refused; other parameters are ignored), and answers
// unsupported_media_type (415) for anything else. A page of another site can make a browser
// send a cross-site POST without asking first only as a form or as text/plain; requiring
// application/json keeps those from ever reaching a JSON handler, even where the cross-origin
// check cannot tell (a browser that sends neither Sec-Fetch-Site nor Origin).
func requireJSON(r *http.Request) error {
	ct := r.Header.Get("Content-Type")
	if ct == "application/json" {
		return nil // the common case, without parsing
	}
	mt, params, err := mime.ParseMediaType(ct)
	if err != nil || mt != "application/json" {
		return errNotJSON
	}
	if cs, ok := params["charset"]; ok && !strings.EqualFold(cs, "utf-8") {
		return errNotUTF8Set
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
