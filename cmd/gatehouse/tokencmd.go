package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/gatehouse-auth/gatehouse"
	"github.com/gatehouse-auth/gatehouse/token"
)

func newTokenCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "token", Short: "Work with access tokens"}
	cmd.AddCommand(newTokenVerifyCmd())
	return cmd
}

func newTokenVerifyCmd() *cobra.Command {
	var data, jwksURL, issuer, audience string
	var skew time.Duration
	var in introspectOptions
	cmd := &cobra.Command{
		Use:   "verify [--jwks URL] [--introspect URL] TOKEN",
		Short: "Verify an access token and print its claims",
		Long: `Verify an access token with the same strict rules as the server (algorithm allow-list,
kid, issuer, audience, type, expiry with clock skew) and print what it says as JSON. The keys
come from the key file in --data, or from a JWK Set URL with --jwks.

Without --introspect this checks the signature and times only: whether the token was revoked
(logout, a refresh family that died, a disabled user) is known to the server, and the output
says "revocation": "not checked". With --introspect URL (the server's /oauth2/introspect) the
server is asked too, with the resource servers' credential (--introspection-client-id and
--introspection-secret, best from --introspection-secret-file or the environment) or an admin's
access token (--introspection-token, or --introspection-token-file); a token it does not call
active is reported as revoked and the command fails.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			keys, err := verifyKeys(data, jwksURL)
			if err != nil {
				return err
			}
			return verifyAndPrint(cmd.Context(), cmd.OutOrStdout(), keys, token.Config{Issuer: issuer, Audience: audience, Leeway: skew}, in, args[0])
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&data, "data", "./gatehouse-data", "directory of the key file (without --jwks)")
	fs.StringVar(&jwksURL, "jwks", "", "URL of a JWK Set to verify against, such as http://127.0.0.1:8080/.well-known/jwks.json")
	fs.StringVar(&issuer, "issuer", "http://127.0.0.1:8080", `expected "iss" (the server's --issuer)`)
	fs.StringVar(&audience, "audience", "gatehouse", `expected "aud"`)
	fs.DurationVar(&skew, "clock-skew", 30*time.Second, "clock skew allowed")
	in.flags(fs)
	documentEnv(fs)
	return cmd
}

// verifyKeys loads the keys from a JWK Set URL, or from the existing key file in data.
func verifyKeys(data, jwksURL string) (*token.KeySet, error) {
	if jwksURL != "" {
		return fetchJWKS(jwksURL)
	}
	path := (&config{Data: data}).keysPath()
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("no key file: %w (use --data or --jwks)", err)
	}
	return token.LoadKeySet(path, token.KeyOptions{})
}

func fetchJWKS(url string) (*token.KeySet, error) {
	c := &http.Client{Timeout: 10 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("JWK Set %s: HTTP %d", url, resp.StatusCode)
	}
	raw, err := io.ReadAll(io.LimitReader(resp.Body, token.MaxJWKSSize+1))
	if err != nil {
		return nil, err
	}
	return token.ParseJWKS(raw, nil)
}

func verifyAndPrint(ctx context.Context, w io.Writer, keys *token.KeySet, cfg token.Config, in introspectOptions, raw string) error {
	cfg.Algorithms = []string{token.AlgEdDSA, token.AlgES256, token.AlgHS256}
	svc, err := token.NewService(keys, cfg)
	if err != nil {
		return err
	}
	t, err := svc.Verify(raw)
	if err != nil {
		return errors.New(gatehouse.ErrorMessage(err) + ": " + err.Error())
	}
	out := map[string]any{
		"sub": t.UserID, "username": t.Username, "name": t.Name, "email": t.Email, "role": t.Role,
		"jti": t.ID, "sid": t.Family, "iat": t.IssuedAt.UTC(), "exp": t.ExpiresAt.UTC(), "valid": true,
		"revocation": "not checked: the signature and times are valid, but only the server knows whether the token was revoked (use --introspect URL)",
	}
	var revoked error
	if in.url != "" {
		active, err := in.check(ctx, raw)
		if err != nil {
			return err
		}
		out["revocation"] = "checked at " + in.url + ": active"
		if !active {
			out["valid"], out["revocation"] = false, "checked at "+in.url+": revoked (the server does not call it active)"
			revoked = fmt.Errorf("the token is revoked: %s does not call it active", in.url)
		}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(out); err != nil {
		return err
	}
	return revoked
}
