package oidc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/gatehouse-auth/gatehouse"
	"github.com/gatehouse-auth/gatehouse/authn"
	"github.com/gatehouse-auth/gatehouse/token"
)

// Back-channel logout (OpenID Connect Back-Channel Logout 1.0): when a user signs out, or is
// signed out everywhere, every client the user granted access to that registered a
// backchannel_logout_uri receives a logout token, a JWT signed like its ID tokens, in a POST.

// backchannelEvent is the logout token's event member.
const backchannelEvent = "http://schemas.openid.net/event/backchannel-logout"

// Delivery bounds: attempts per client, the wait before each retry, the time one POST may take
// and how many deliveries run at once (past it a delivery waits for a slot).
var (
	backchannelAttempts    = 3
	backchannelBackoff     = []time.Duration{500 * time.Millisecond, 2 * time.Second}
	backchannelTimeout     = 5 * time.Second
	backchannelConcurrency = 16
)

// backchannel sends logout tokens.
type backchannel struct {
	issuer  string
	keys    *token.KeySet
	clients gatehouse.ClientStore
	grants  gatehouse.GrantStore
	uses    *authn.Service
	client  *http.Client
	now     func() time.Time
	log     *slog.Logger
	alg     string // the server's default ID-token algorithm
	slots   chan struct{}
	wg      sync.WaitGroup
}

// notify is the authn sign-out listener: it finds the clients to tell and delivers to each in
// the background, so that the sign-out never waits for a client.
func (b *backchannel) notify(o authn.SignOut) {
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		grants, err := b.grants.ListGrants(ctx, o.UserID)
		if err != nil {
			b.log.Warn("back-channel logout: listing the user's grants failed", "user_id", o.UserID, "err", err)
			return
		}
		for _, g := range grants {
			c, err := b.clients.ClientByID(ctx, g.ClientID)
			if err != nil || c.BackchannelLogoutURI == "" {
				continue
			}
			b.wg.Add(1)
			go func() {
				defer b.wg.Done()
				b.deliver(c, o)
			}()
		}
	}()
}

// wait blocks until every delivery started so far ended (tests, and a graceful stop).
func (b *backchannel) wait() { b.wg.Wait() }

// deliver posts a logout token to c, retrying a failure up to the bound, and audits the
// outcome.
func (b *backchannel) deliver(c *gatehouse.Client, o authn.SignOut) {
	b.slots <- struct{}{}
	defer func() { <-b.slots }()
	tok, err := b.logoutToken(c, o)
	if err == nil {
		for i := range backchannelAttempts {
			if i > 0 {
				time.Sleep(backchannelBackoff[min(i-1, len(backchannelBackoff)-1)])
			}
			if err = b.post(c.BackchannelLogoutURI, tok); err == nil {
				break
			}
		}
	}
	e := gatehouse.AuditEvent{Action: gatehouse.AuditBackchannelLogout, Outcome: gatehouse.AuditSuccess, UserID: o.UserID,
		Detail: "client " + c.ID}
	if err != nil {
		e.Outcome, e.Detail = gatehouse.AuditFailure, fmt.Sprintf("client %s: %d attempts: %v", c.ID, backchannelAttempts, err)
	}
	b.uses.Audit(context.Background(), authn.Client{}, e)
}

// post sends one logout token; a 200 or 204 answer is a delivery (the specification's).
func (b *backchannel) post(uri, tok string) error {
	ctx, cancel := context.WithTimeout(context.Background(), backchannelTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, "POST", uri, strings.NewReader(url.Values{"logout_token": {tok}}.Encode()))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := b.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusNoContent {
		return fmt.Errorf("answered %d", resp.StatusCode)
	}
	return nil
}

// logoutToken is the signed logout token for c: iss, aud, iat, exp, jti, sub, sid (for one
// session), events; typ logout+jwt; never a nonce.
func (b *backchannel) logoutToken(c *gatehouse.Client, o authn.SignOut) (string, error) {
	alg := b.alg
	if c.IDTokenAlg != "" {
		alg = c.IDTokenAlg
	}
	kid, key, ok := b.keys.PrivateSigningKeyFor(alg)
	if !ok {
		return "", errors.New("no " + alg + " signing key")
	}
	opts := (&jose.SignerOptions{}).WithType("logout+jwt").WithHeader("kid", kid)
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.SignatureAlgorithm(alg), Key: key}, opts)
	if err != nil {
		return "", err
	}
	now := b.now()
	claims := map[string]any{"iss": b.issuer, "aud": c.ID, "iat": now.Unix(), "exp": now.Add(2 * time.Minute).Unix(),
		"jti": gatehouse.NewSecret(), "sub": o.UserID, "events": map[string]any{backchannelEvent: map[string]any{}}}
	if o.Session != "" {
		claims["sid"] = o.Session
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", err
	}
	jws, err := signer.Sign(payload)
	if err != nil {
		return "", err
	}
	return jws.CompactSerialize()
}
