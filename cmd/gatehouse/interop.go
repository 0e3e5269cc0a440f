package main

import (
	"fmt"
	"time"

	"github.com/spf13/pflag"

	ghttp "github.com/gatehouse-auth/gatehouse/http"
	"github.com/gatehouse-auth/gatehouse/token"
)

// interopConfig holds the settings of token interoperability: the resource-server credential of
// introspection and the revocation stream, and the key rotation schedule.
type interopConfig struct {
	IntrospectionClientID string
	IntrospectionSecret   string
	KeyRotationInterval   time.Duration
	KeyPublishAhead       time.Duration
}

// defaultKeyPublishAhead is how long a new signing key is published before it signs: longer than
// the maintenance tick that makes every instance re-read the key file (10 s) and than the JWKS
// Cache-Control max-age (5 minutes), so that neither another instance nor a JWKS consumer that
// honours max-age ever meets a token signed by a key it could not have fetched.
const defaultKeyPublishAhead = 10 * time.Minute

// keyOptions are the options of the signing key set.
func (c *config) keyOptions(now func() time.Time) token.KeyOptions {
	return token.KeyOptions{Alg: c.SigningAlg, HMACSecret: []byte(c.HMACSecret), Now: now, PublishAhead: c.KeyPublishAhead}
}

func (c *config) validateKeys() error {
	if c.KeyPublishAhead < 0 {
		return fmt.Errorf("--key-publish-ahead must not be negative")
	}
	return nil
}

// keyPropagation is how long a key rotation may take to reach every instance sharing the key
// file (they re-read it on their 10-second maintenance tick), with room to spare. A retired key
// stays published this long after the last token it may have signed has expired.
const keyPropagation = time.Minute

// minKeyRotationInterval is the shortest accepted --key-rotation-interval.
const minKeyRotationInterval = time.Minute

// keyPolicy is the rotation schedule and the retirement rule of the signing keys: a key leaves
// the key file (and the JWKS) once every token it may have signed has expired, with the clock
// skew and the propagation time on top.
func (c *config) keyPolicy() token.KeyPolicy {
	return token.KeyPolicy{RotateEvery: c.KeyRotationInterval, RetireAfter: c.AccessTTL + c.ClockSkew + keyPropagation}
}

// minIntrospectionSecret is the shortest accepted --introspection-secret, in bytes.
const minIntrospectionSecret = 32

func (c *config) interopFlags(fs *pflag.FlagSet) {
	fs.StringVar(&c.IntrospectionClientID, "introspection-client-id", ghttp.DefaultIntrospectionClientID,
		"client id of resource servers (HTTP Basic) at POST /oauth2/introspect and GET /api/revocations/stream")
	fs.StringVar(&c.IntrospectionSecret, "introspection-secret", "",
		"client secret of resource servers, at least 32 bytes (default: none; then only an admin's bearer token is accepted there)")
	fs.DurationVar(&c.KeyRotationInterval, "key-rotation-interval", 0,
		"add a new signing key when the current one is this old, e.g. 720h (0: only by \"gatehouse keys rotate\"); old keys are retired once their tokens have expired")
}

func (c *config) validateInterop() error {
	if c.IntrospectionSecret != "" && len(c.IntrospectionSecret) < minIntrospectionSecret {
		return fmt.Errorf("--introspection-secret must be at least %d bytes", minIntrospectionSecret)
	}
	if err := c.validateKeys(); err != nil {
		return err
	}
	if c.IntrospectionClientID == "" {
		return fmt.Errorf("--introspection-client-id must not be empty")
	}
	if c.KeyRotationInterval != 0 && c.KeyRotationInterval < minKeyRotationInterval {
		return fmt.Errorf("--key-rotation-interval must be 0 (off) or at least %s", minKeyRotationInterval)
	}
	if c.KeyRotationInterval != 0 && c.SigningAlg == token.AlgHS256 && c.HMACSecret != "" {
		return fmt.Errorf("--key-rotation-interval cannot rotate the configured --hmac-secret; change the secret to rotate it")
	}
	return nil
}

// interopServerConfig copies the interoperability settings into the HTTP server's configuration.
func (c *config) interopServerConfig(sc *ghttp.Config) {
	sc.IntrospectionClientID = c.IntrospectionClientID
	sc.IntrospectionSecret = c.IntrospectionSecret
}

// maintainKeys re-reads the key file, rotates the signing key when the schedule says so and
// retires keys whose tokens have all expired.
func (a *app) maintainKeys() {
	ch, err := a.keys.Maintain(a.cfg.keyPolicy())
	switch {
	case err != nil:
		a.log.Error("maintaining signing keys", "err", err)
		return
	case ch.Rotated != "":
		a.log.Info("signing key rotated", "kid", ch.Rotated)
	}
	if len(ch.Retired) > 0 {
		a.log.Info("signing keys retired", "kids", ch.Retired)
	}
	if ch.Changed && ch.Rotated == "" && len(ch.Retired) == 0 {
		a.log.Info("signing keys reloaded")
	}
}
