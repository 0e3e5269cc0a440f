package apispec

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
)

// Exchange is one request and the answer to it, with both bodies already read.
type Exchange struct {
	Request *http.Request
	// RequestBody is the body sent; RequestBodyPartial says it was longer than the checker
	// reads (MaxCheckedBody), so only the rest of the request is checked.
	RequestBody        []byte
	RequestBodyPartial bool
	Response           *http.Response
	// ResponseBody is the body received; with ResponseStreamed the body was left unread (an
	// event stream) and only the status and headers are checked.
	ResponseBody     []byte
	ResponseStreamed bool
}

// MaxCheckedBody is the largest request body the checker reads: the server refuses larger
// ones (413) whatever they hold.
const MaxCheckedBody = 64<<10 + 1

// Check reports how the exchange departs from the document, or nil when it matches.
func (c *Contract) Check(x Exchange) error {
	req, resp := x.Request, x.Response
	switch {
	case req.Method == http.MethodHead:
		return nil // no body to check; the GET twin is checked
	case (resp.StatusCode == http.StatusBadGateway || resp.StatusCode == http.StatusGatewayTimeout) && resp.Header.Get("Server") != "":
		return nil // a proxy's answer (gatehouse sends no Server header, and never 502/504)
	case resp.StatusCode == http.StatusRequestHeaderFieldsTooLarge && isMedia(resp.Header, "text/plain"):
		return nil // net/http's own answer to oversized headers, before any handler runs
	}
	route, params, err := c.router.FindRoute(req)
	if err != nil {
		return c.checkUnrouted(err, x)
	}
	in := &openapi3filter.RequestValidationInput{Request: withBody(req, x.RequestBody), PathParams: params, Route: route, Options: options}
	if x.RequestBodyPartial {
		in.Options = withExclusions(options, true, false)
	}
	reqErr := openapi3filter.ValidateRequest(context.Background(), in)
	if err := c.checkResponse(in, route, x); err != nil {
		return fmt.Errorf("answer %d does not match %s %s: %w", resp.StatusCode, route.Method, route.Path, err)
	}
	if reqErr != nil && resp.StatusCode < 400 {
		return fmt.Errorf("the server accepted (%d) a request that %s %s refuses: %w", resp.StatusCode, route.Method, route.Path, reqErr)
	}
	return nil
}

func (c *Contract) checkResponse(in *openapi3filter.RequestValidationInput, route *routers.Route, x Exchange) error {
	resp := x.Response
	out := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: in, Status: resp.StatusCode, Header: resp.Header,
		Body: io.NopCloser(bytes.NewReader(x.ResponseBody)), Options: options,
	}
	if x.ResponseStreamed {
		out.Options = withExclusions(options, false, true)
	}
	if err := openapi3filter.ValidateResponse(context.Background(), out); err != nil {
		return err
	}
	// openapi3filter does not check that an answer declared without content has none. (The
	// body of a redirect is net/http's courtesy link for old browsers, not part of the contract.)
	redirect := resp.StatusCode >= 300 && resp.StatusCode < 400
	if ref := route.Operation.Responses.Status(resp.StatusCode); ref != nil && ref.Value != nil &&
		len(ref.Value.Content) == 0 && len(x.ResponseBody) > 0 && !redirect {
		return fmt.Errorf("a body of %d bytes where the document declares none", len(x.ResponseBody))
	}
	return nil
}

// checkUnrouted checks the answer to a path or method that the document does not have: the
// server must answer 404 not_found, or 405 with Allow for a known path, as /api/ errors.
func (c *Contract) checkUnrouted(routeErr error, x Exchange) error {
	resp := x.Response
	want := http.StatusNotFound
	if errors.Is(routeErr, routers.ErrMethodNotAllowed) {
		want = http.StatusMethodNotAllowed
	} else if !errors.Is(routeErr, routers.ErrPathNotFound) {
		return routeErr
	}
	if resp.StatusCode != want {
		return fmt.Errorf("%s %s is not in the document (%v), so the answer must be %d, not %d",
			x.Request.Method, x.Request.URL.Path, routeErr, want, resp.StatusCode)
	}
	if want == http.StatusMethodNotAllowed && resp.Header.Get("Allow") == "" {
		return errors.New("405 without an Allow header")
	}
	return c.checkErrorBody(x, map[int]string{404: "not_found", 405: "bad_request"}[want])
}

// checkErrorBody checks an /api/ error body against the Error schema, with the given code.
func (c *Contract) checkErrorBody(x Exchange, code string) error {
	if !isMedia(x.Response.Header, "application/json") {
		return fmt.Errorf("error answer with Content-Type %q, want application/json", x.Response.Header.Get("Content-Type"))
	}
	var v any
	if err := json.Unmarshal(x.ResponseBody, &v); err != nil {
		return fmt.Errorf("error body is not JSON: %v", err)
	}
	if err := c.errors.VisitJSON(v, openapi3.EnableJSONSchema2020()); err != nil {
		return fmt.Errorf("error body does not match the Error schema: %w", err)
	}
	if got, _ := v.(map[string]any)["error"].(string); got != code {
		return fmt.Errorf("error code %q, want %q", got, code)
	}
	return nil
}

func withExclusions(o *openapi3filter.Options, requestBody, responseBody bool) *openapi3filter.Options {
	cp := *o
	cp.ExcludeRequestBody, cp.ExcludeResponseBody = requestBody, responseBody
	return &cp
}

// withBody returns a copy of r that reads body.
func withBody(r *http.Request, body []byte) *http.Request {
	cp := r.Clone(context.Background())
	cp.Body = io.NopCloser(bytes.NewReader(body))
	if body == nil {
		cp.Body = http.NoBody
	}
	return cp
}

func isMedia(h http.Header, want string) bool {
	mt, _, err := mime.ParseMediaType(h.Get("Content-Type"))
	return err == nil && mt == want
}
