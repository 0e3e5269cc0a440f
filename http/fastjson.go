package http

import (
	"net/http"
	"sync"
	"unicode/utf8"

	"github.com/gatehouse-auth/gatehouse"
)

// The answer of GET /api/protected is written without reflection: it is the request hot path.
// appendJSONString produces exactly what encoding/json produces for a string (HTML-safe
// escapes, U+2028/U+2029 escaped, invalid UTF-8 replaced), which a test checks.
// BenchmarkAuthenticate/jwt-eddsa: 0 allocations, against 2 (128 B) through encoding/json.

const hexDigits = "0123456789abcdef"

// appendJSONString appends s as a JSON string literal.
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	return append(appendJSONChars(b, s), '"')
}

// jsonSafe[c] says that the byte c stands for itself inside a JSON string literal as
// encoding/json writes it (printable ASCII but '"', '\\' and the HTML-sensitive '<', '>',
// '&'). One table load per byte instead of six comparisons: BenchmarkAuthenticate/jwt-eddsa
// spent about 1,400 instructions of 7,600 per request escaping the answer's strings.
var jsonSafe = func() (t [256]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\' && c != '<' && c != '>' && c != '&'
	}
	return t
}()

// appendJSONChars appends s escaped for the inside of a JSON string literal.
func appendJSONChars(b []byte, s string) []byte {
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if jsonSafe[c] {
			i++
			continue
		}
		if c < utf8.RuneSelf {
			b = append(b, s[start:i]...)
			b = appendEscapedByte(b, c)
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	return append(b, s[start:]...)
}

func appendEscapedByte(b []byte, c byte) []byte {
	switch c {
	case '"', '\\':
		return append(b, '\\', c)
	case '\b':
		return append(b, '\\', 'b')
	case '\f':
		return append(b, '\\', 'f')
	case '\n':
		return append(b, '\\', 'n')
	case '\r':
		return append(b, '\\', 'r')
	case '\t':
		return append(b, '\\', 't')
	}
	return append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
}

// appendPrincipal appends p as the JSON object encoding/json makes of gatehouse.Principal.
func appendPrincipal(b []byte, p *gatehouse.Principal) []byte {
	b = append(b, `{"id":`...)
	b = appendJSONString(b, p.UserID)
	b = append(b, `,"username":`...)
	b = appendJSONString(b, p.Username)
	b = append(b, `,"name":`...)
	b = appendJSONString(b, p.Name)
	b = append(b, `,"email":`...)
	b = appendJSONString(b, p.Email)
	b = append(b, `,"role":`...)
	b = appendJSONString(b, string(p.Role))
	return append(b, '}')
}

// protectedPool: BenchmarkAuthenticate allocates 4 more times (360 B) with a slice grown per request.
var protectedPool = sync.Pool{New: func() any { b := make([]byte, 0, 512); return &b }}

// writeProtected writes {"message": "Welcome <username>", "user": {...}, "auth": "..."}.
func writeProtected(w http.ResponseWriter, a *gatehouse.Auth) {
	bp := protectedPool.Get().(*[]byte)
	b := append((*bp)[:0], `{"message":"Welcome `...)
	b = appendJSONChars(b, a.Username)
	b = append(b, `","user":`...)
	b = appendPrincipal(b, &a.Principal)
	b = append(b, `,"auth":`...)
	b = appendJSONString(b, a.Method)
	b = append(b, "}\n"...)
	h := w.Header()
	h["Content-Type"] = jsonContentType
	h["Cache-Control"] = noStore
	w.WriteHeader(http.StatusOK)
	w.Write(b)
	*bp = b
	protectedPool.Put(bp)
}
