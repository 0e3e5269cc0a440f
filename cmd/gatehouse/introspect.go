package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/spf13/pflag"

	ghttp "github.com/gatehouse-auth/gatehouse/http"
)

// introspectOptions are how "token verify --introspect" asks a server whether a token is
// active (RFC 7662): with the resource servers' client credential, or an admin's access token.
type introspectOptions struct {
	url, clientID, secret, bearer string
}

func (o *introspectOptions) flags(fs *pflag.FlagSet) {
	fs.StringVar(&o.url, "introspect", "", "also ask this introspection endpoint whether the token is revoked, such as http://127.0.0.1:8080/oauth2/introspect")
	fs.StringVar(&o.clientID, "introspection-client-id", ghttp.DefaultIntrospectionClientID, "client id of the resource servers' credential (HTTP Basic) at --introspect")
	fs.StringVar(&o.secret, "introspection-secret", "", "client secret of the resource servers' credential at --introspect (the server's --introspection-secret)")
	fs.StringVar(&o.bearer, "introspection-token", "", "an admin's access token to authenticate at --introspect instead of the client credential")
}

// maxIntrospection bounds the answer read from the introspection endpoint.
const maxIntrospection = 64 << 10

// check asks the endpoint about raw and returns whether it is active. Anything but a 200 with
// a JSON "active" boolean is an error: the command must not report a token as unrevoked when
// the server did not say so.
func (o *introspectOptions) check(ctx context.Context, raw string) (bool, error) {
	if o.secret == "" && o.bearer == "" {
		return false, errors.New("--introspect needs --introspection-secret (or its -file twin) or --introspection-token")
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, "POST", o.url, strings.NewReader(url.Values{"token": {raw}, "token_type_hint": {"access_token"}}.Encode()))
	if err != nil {
		return false, fmt.Errorf("--introspect: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	if o.bearer != "" {
		req.Header.Set("Authorization", "Bearer "+o.bearer)
	} else {
		req.SetBasicAuth(url.QueryEscape(o.clientID), url.QueryEscape(o.secret))
	}
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		return false, fmt.Errorf("introspection at %s: %w", o.url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxIntrospection))
	if err != nil {
		return false, fmt.Errorf("introspection at %s: %w", o.url, err)
	}
	var ans struct {
		Active *bool  `json:"active"`
		Error  string `json:"error"`
	}
	if json.Unmarshal(body, &ans) != nil || resp.StatusCode != http.StatusOK || ans.Active == nil {
		return false, fmt.Errorf("introspection at %s: HTTP %d %s; revocation not checked", o.url, resp.StatusCode, ans.Error)
	}
	return *ans.Active, nil
}
