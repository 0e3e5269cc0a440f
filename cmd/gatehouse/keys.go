package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/spf13/pflag"

	"github.com/gatehouse-auth/gatehouse/token"
)

// Signing keys: the key file, its rotation schedule and the retirement of old keys.

// defaultKeyPublishAhead is how long a new signing key is published before it signs: longer than
// the maintenance tick that makes every instance re-read the key file (10 s) and than the JWKS
// Cache-Control max-age (5 minutes), so that neither another instance nor a JWKS consumer that
// honours max-age ever meets a token signed by a key it could not have fetched.
const defaultKeyPublishAhead = 10 * time.Minute

// keyPropagation is how long a key rotation may take to reach every instance sharing the key
// file (they re-read it on their 10-second maintenance tick), with room to spare. A retired key
// stays published this long after the last token it may have signed has expired.
const keyPropagation = time.Minute

// minKeyRotationInterval is the shortest accepted --key-rotation-interval.
const minKeyRotationInterval = time.Minute

// keyFlags are the flags of the signing keys, shared by "serve" and "keys rotate".
func (c *config) keyFlags(fs *pflag.FlagSet) {
	fs.StringVar(&c.SigningAlg, "signing-alg", "EdDSA", "access-token signing algorithm: EdDSA, ES256 or HS256")
	fs.StringVar(&c.HMACSecret, "hmac-secret", "", "HS256 secret, at least 32 bytes (default: a random one kept in the data directory)")
	fs.StringVar(&c.KeysFile, "keys-file", "", "signing key file (default <data>/keys.json); several instances share one file and reload it")
	fs.DurationVar(&c.KeyPublishAhead, "key-publish-ahead", defaultKeyPublishAhead,
		"a new signing key (keys rotate, --key-rotation-interval) is published in the JWKS this long before it signs, so every instance and JWKS cache has it first (0: it signs at once)")
	fs.BoolVar(&c.KeepRS256, "rs256-key", false,
		"also keep an RS256 key (rotated with the signing key, published in the JWKS) for OpenID Connect ID tokens of clients that ask for RS256; implied by --id-token-alg RS256")
	fs.StringVar(&c.IDTokenAlg, "id-token-alg", "",
		"default algorithm of OpenID Connect ID tokens: the signing algorithm, or RS256 (default: the signing algorithm); a client may ask for either")
	c.keyStoreFlags(fs)
}

// keyScheduleFlags are the key flags of "serve" only.
func (c *config) keyScheduleFlags(fs *pflag.FlagSet) {
	fs.DurationVar(&c.KeyRotationInterval, "key-rotation-interval", 0,
		"add a new signing key when the current one is this old, e.g. 720h (0: only by \"gatehouse keys rotate\"); old keys are retired once their tokens have expired")
}

// keyOptions are the options of the signing key set.
// With --rs256-key (or --id-token-alg RS256) and an asymmetric signing algorithm the set also
// keeps an RS256 key, rotated with it, for the OpenID Provider's ID tokens.
func (c *config) keyOptions(now func() time.Time) token.KeyOptions {
	o := token.KeyOptions{Alg: c.SigningAlg, HMACSecret: []byte(c.HMACSecret), Now: now, PublishAhead: c.KeyPublishAhead}
	if c.SigningAlg != token.AlgHS256 && (c.KeepRS256 || c.IDTokenAlg == token.AlgRS256) {
		o.ExtraAlgs = []string{token.AlgRS256}
	}
	return o
}

func (c *config) validateKeys() error {
	if c.KeyPublishAhead < 0 {
		return fmt.Errorf("--key-publish-ahead must not be negative")
	}
	if a := c.IDTokenAlg; a != "" && a != c.SigningAlg && a != token.AlgRS256 {
		return fmt.Errorf("--id-token-alg must be the signing algorithm (%s) or RS256, not %q", c.SigningAlg, a)
	}
	return nil
}

func (c *config) validateKeySchedule() error {
	if c.KeyRotationInterval != 0 && c.KeyRotationInterval < minKeyRotationInterval {
		return fmt.Errorf("--key-rotation-interval must be 0 (off) or at least %s", minKeyRotationInterval)
	}
	if c.KeyRotationInterval != 0 && c.SigningAlg == token.AlgHS256 && c.HMACSecret != "" {
		return fmt.Errorf("--key-rotation-interval cannot rotate the configured --hmac-secret; change the secret to rotate it")
	}
	return nil
}

// keyPolicy is the rotation schedule and the retirement rule of the signing keys: a key leaves
// the key file (and the JWKS) once every token it may have signed has expired, with the clock
// skew and the propagation time on top.
func (c *config) keyPolicy() token.KeyPolicy {
	return token.KeyPolicy{RotateEvery: c.KeyRotationInterval, RetireAfter: c.AccessTTL + c.ClockSkew + keyPropagation}
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

// loadKeys loads the signing keys from where they live (keystore.go). When the user store
// already holds accounts, keys must be stored there: creating new keys then would silently
// invalidate every token issued so far (and hide a lost, emptied or unmounted key file, a
// wrong --data or the wrong database), so the server refuses to start instead. Keys that
// cannot be read (a wrong key-encryption key) stop it too. A configured HS256 secret is not a
// throwaway key, so it is let through.
func (a *app) loadKeys(ctx context.Context) (*token.KeySet, error) {
	storage, err := a.keyStorage(ctx)
	if err != nil {
		return nil, fmt.Errorf("signing keys: %w", err)
	}
	opts := a.cfg.keyOptions(a.now)
	n := 0
	if a.cfg.SigningAlg != "HS256" || a.cfg.HMACSecret == "" {
		if n, err = a.users.CountUsers(ctx); err != nil {
			return nil, fmt.Errorf("signing keys: %w", err)
		}
		opts.RequireKeys = n > 0 // else a first start: the keys are created with the database
	}
	ks, err := token.OpenKeySet(storage, opts)
	if errors.Is(err, token.ErrNoKeys) {
		return nil, a.noKeys(storage, n)
	}
	if err != nil {
		return nil, fmt.Errorf("signing keys: %w", err)
	}
	return ks, nil
}

// noKeys is the error of a start that finds no keys over n accounts.
func (a *app) noKeys(storage token.KeyStorage, n int) error {
	const refusal = "refusing to create new keys silently (every token issued so far would stop verifying). "
	if a.cfg.keyStore.KeyStore == "postgres" {
		return fmt.Errorf("signing keys: the %s holds none, but the user store already holds %d accounts; "+refusal+
			"Copy the key file in with \"gatehouse migrate --key-store postgres\", or create keys on purpose with \"gatehouse keys rotate --key-store postgres\"", storage, n)
	}
	path := a.cfg.keysPath()
	what := "holds no key"
	if _, serr := os.Stat(path); errors.Is(serr, os.ErrNotExist) {
		what = "is missing"
	}
	return fmt.Errorf("signing keys: %s %s, but the data directory already holds %d accounts; "+refusal+
		"Restore the key file, or create new keys on purpose with \"gatehouse keys rotate --data %s\"", path, what, n, a.cfg.Data)
}
