package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
)

// FloorHandler is the plain floor of the measurements: a bare net/http handler that answers
// "hello" on every path (the same as scripts/hello).
func FloorHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		w.Write([]byte("hello\n"))
	})
}

// Response is one HTTP answer as the bench replays it: status, headers (without Date and
// Content-Length, which net/http writes itself) and body.
type Response struct {
	Status int         `json:"status"`
	Header http.Header `json:"header"`
	Body   []byte      `json:"body"`
}

// SameBytesHandler answers every request with resp: the same status line, headers and body
// as a mode's GET /api/protected, with none of the work of finding out who sent it. Measured
// with the same request headers (the credential included, unread), it is the floor of that
// mode: what net/http costs for those bytes in and out, so that the mode's ratio to it is the
// cost of authentication itself.
func SameBytesHandler(resp Response) http.Handler {
	header := resp.Header.Clone()
	header.Del("Date")
	header.Del("Content-Length")
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		for k, v := range header {
			h[k] = v
		}
		w.WriteHeader(resp.Status)
		w.Write(resp.Body)
	})
}

// ReadResponse reads a Response written by WriteResponse.
func ReadResponse(path string) (Response, error) {
	var r Response
	b, err := os.ReadFile(path)
	if err != nil {
		return r, err
	}
	if err := json.Unmarshal(b, &r); err != nil {
		return r, fmt.Errorf("%s: %w", path, err)
	}
	if r.Status < 200 || r.Status > 599 {
		return r, fmt.Errorf("%s: status %d is not an HTTP status", path, r.Status)
	}
	return r, nil
}

func writeResponse(path string, r Response) error {
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o600)
}

// capture fetches path from base with cred and returns the answer, which must be a 200.
func (a *api) capture(ctx context.Context, base, path string, cred Cred) (Response, error) {
	req, err := http.NewRequestWithContext(ctx, "GET", base+path, nil)
	if err != nil {
		return Response{}, err
	}
	req.Header.Set("User-Agent", "gatehouse-bench")
	cred.set(req)
	resp, err := a.c.Do(req)
	if err != nil {
		return Response{}, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return Response{}, err
	}
	if resp.StatusCode != http.StatusOK {
		return Response{}, fmt.Errorf("capturing %s: status %d %s", path, resp.StatusCode, bytes.TrimSpace(body))
	}
	// Date and Content-Length: net/http writes both itself, for the floor as for gatehouse.
	h := resp.Header.Clone()
	h.Del("Date")
	h.Del("Content-Length")
	return Response{Status: resp.StatusCode, Header: h, Body: body}, nil
}

// startSameBytesFloor captures what in answers cred on path and starts a floor that answers
// exactly that ("gatehouse-bench floor --response FILE").
func (b *Runner) startSameBytesFloor(ctx context.Context, name string, in *Instance, path string, cred Cred) (*Instance, error) {
	resp, err := b.api.capture(ctx, in.URL(), path, cred)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	file := filepath.Join(b.work, "response-"+sanitize(name)+".json")
	if err := writeResponse(file, resp); err != nil {
		return nil, err
	}
	return b.start(ctx, "same-bytes floor "+name, "", childEnv(), "/", b.opts.Floor, "floor", "--addr", "{addr}", "--response", file)
}
