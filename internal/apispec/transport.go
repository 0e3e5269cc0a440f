package apispec

import (
	"bytes"
	"io"
	"net/http"
	"testing"
)

// Transport returns a RoundTripper that sends requests through base (http.DefaultTransport
// when nil) and checks every exchange against the document, reporting a mismatch with
// tb.Errorf: the test goes on and fails at its end, naming the request. Event streams are
// checked by status and headers, and handed on unread.
func (c *Contract) Transport(tb testing.TB, base http.RoundTripper) http.RoundTripper {
	if base == nil {
		base = http.DefaultTransport
	}
	return &transport{c: c, tb: tb, base: base}
}

// Client returns an http.Client whose every exchange is checked against docs/openapi.yaml.
// It follows no redirects, so that each answer is checked as the server sent it.
func Client(tb testing.TB) *http.Client {
	return &http.Client{
		Transport:     Must(tb).Transport(tb, nil),
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

type transport struct {
	c    *Contract
	tb   testing.TB
	base http.RoundTripper
}

func (t *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	sent, partial, out, err := peekBody(req)
	if err != nil {
		return nil, err
	}
	resp, err := t.base.RoundTrip(out)
	if err != nil {
		return resp, err
	}
	x := Exchange{Request: req, RequestBody: sent, RequestBodyPartial: partial, Response: resp}
	if isMedia(resp.Header, "text/event-stream") {
		x.ResponseStreamed = true
	} else {
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			return nil, err
		}
		x.ResponseBody = body
		resp.Body = io.NopCloser(bytes.NewReader(body))
	}
	if err := t.c.Check(x); err != nil {
		t.tb.Errorf("%s %s: the exchange does not match docs/openapi.yaml: %v\nrequest body: %.300q\nanswer body: %.300q",
			req.Method, req.URL.Path, err, sent, x.ResponseBody)
	}
	return resp, nil
}

// peekBody reads up to MaxCheckedBody bytes of req's body and returns them, whether more
// followed, and the request to send, whose body replays what was read and then the rest.
func peekBody(req *http.Request) (sent []byte, partial bool, out *http.Request, err error) {
	if req.Body == nil || req.Body == http.NoBody {
		return nil, false, req, nil
	}
	sent, err = io.ReadAll(io.LimitReader(req.Body, MaxCheckedBody))
	if err != nil {
		req.Body.Close()
		return nil, false, nil, err
	}
	out = req.Clone(req.Context())
	partial = len(sent) == MaxCheckedBody
	if partial {
		out.Body = struct {
			io.Reader
			io.Closer
		}{io.MultiReader(bytes.NewReader(sent), req.Body), req.Body}
	} else {
		req.Body.Close()
		out.Body = io.NopCloser(bytes.NewReader(sent))
	}
	return sent, partial, out, nil
}
