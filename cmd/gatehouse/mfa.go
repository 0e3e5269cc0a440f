package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/pflag"

	"github.com/gatehouse-auth/gatehouse"
	"github.com/gatehouse-auth/gatehouse/mfa"
	"github.com/gatehouse-auth/gatehouse/postgres"
	"github.com/gatehouse-auth/gatehouse/sqlite"
	"github.com/gatehouse-auth/gatehouse/token"
)

// Second factors: their flags, the factor key that seals TOTP secrets, and their stores.

// mfaConfig is the configuration of second factors.
type mfaConfig struct {
	Enabled         bool
	FactorKeyFile   string
	TOTPIssuer      string
	WebAuthnRPID    string
	WebAuthnOrigins []string
	WebAuthnName    string
	RequireRoles    []string
}

// factorKeyName is the factor key's file in the data directory, for one instance on SQLite.
const factorKeyName = "factor.key"

func (c *config) mfaFlags(fs *pflag.FlagSet) {
	m := &c.mfa
	fs.BoolVar(&m.Enabled, "mfa", true, "offer second factors: authenticator apps (TOTP) and recovery codes, and with --webauthn-rp-id security keys and passkeys (a user with one must pass it after the password)")
	fs.StringVar(&m.FactorKeyFile, "factor-key-file", "", "a file holding the key that seals TOTP secrets, 32 random bytes in base64 or hex (gatehouse keys new-kek); default: derived from the key-encryption key with --key-store postgres, else <data>/factor.key, made at first start")
	fs.StringVar(&m.TOTPIssuer, "totp-issuer", mfa.DefaultIssuer, "the service's name that authenticator apps show next to the account")
	fs.StringVar(&m.WebAuthnRPID, "webauthn-rp-id", "", `WebAuthn relying party id: the domain security keys and passkeys are bound to, e.g. "example.com" (default: none, WebAuthn off)`)
	fs.StringSliceVar(&m.WebAuthnOrigins, "webauthn-origins", nil, `the exact origins whose WebAuthn answers are accepted, e.g. "https://login.example.com" (comma-separated; required with --webauthn-rp-id)`)
	fs.StringSliceVar(&m.RequireRoles, "require-mfa-roles", nil, `roles whose users must sign in with a second factor, e.g. "admin" (comma-separated): one without a factor enrols at the next sign-in, and their one-factor sessions and tokens stop working (default: none)`)
	fs.StringVar(&m.WebAuthnName, "webauthn-rp-name", "", "the name authenticators show for this server (default: --totp-issuer)")
}

func (c *config) validateMFA() error {
	m := c.mfa
	switch {
	case !m.Enabled && (m.WebAuthnRPID != "" || len(m.WebAuthnOrigins) > 0 || m.FactorKeyFile != ""):
		return errors.New("--webauthn-rp-id, --webauthn-origins and --factor-key-file need --mfa")
	case (m.WebAuthnRPID == "") != (len(m.WebAuthnOrigins) == 0):
		return errors.New("--webauthn-rp-id and --webauthn-origins go together")
	case strings.TrimSpace(m.TOTPIssuer) == "" || strings.Contains(m.TOTPIssuer, ":"):
		return errors.New("--totp-issuer: must be a name without a colon")
	case !m.Enabled && len(m.RequireRoles) > 0:
		return errors.New("--require-mfa-roles needs --mfa")
	}
	for _, r := range m.RequireRoles {
		if !gatehouse.Role(r).Valid() {
			return fmt.Errorf("--require-mfa-roles: %q is not a role (user or admin)", r)
		}
	}
	return nil
}

// mfaRoles returns the roles of --require-mfa-roles.
func (m mfaConfig) mfaRoles() []gatehouse.Role {
	out := make([]gatehouse.Role, len(m.RequireRoles))
	for i, r := range m.RequireRoles {
		out[i] = gatehouse.Role(r)
	}
	return out
}

// factorKey returns the key that seals TOTP secrets, and where it comes from: the file given,
// a derivation from the key-encryption key (every instance that shares PostgreSQL has it
// already), or for one instance on SQLite a file in the data directory, made at first start.
// With users in PostgreSQL and none of the first two it returns nil: a key made by one
// instance would not open the secrets sealed by another.
func (a *app) factorKey() ([]byte, string, error) {
	cfg := a.cfg
	switch {
	case cfg.mfa.FactorKeyFile != "":
		key, err := readKeyFile(cfg.mfa.FactorKeyFile)
		return key, cfg.mfa.FactorKeyFile, err
	case cfg.keyStore.KeyStore == "postgres":
		kek, err := cfg.kek()
		if err != nil {
			return nil, "", err
		}
		key, err := mfa.DeriveKey(kek)
		return key, "derived from the key-encryption key", err
	case cfg.UserStore == "postgres":
		return nil, "", nil
	}
	path := filepath.Join(cfg.Data, factorKeyName)
	if err := createKeyFile(path); err != nil {
		return nil, "", err
	}
	key, err := readKeyFile(path)
	return key, path, err
}

func readKeyFile(path string) ([]byte, error) {
	text, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("factor key: %w", err)
	}
	key, err := token.ParseKEK(text)
	if err != nil {
		return nil, fmt.Errorf("factor key %s: %w", path, err)
	}
	return key, nil
}

// createKeyFile writes a new random key to path, readable by its owner only, unless the file
// exists.
func createKeyFile(path string) error {
	fh, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, os.ErrExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("factor key: %w", err)
	}
	if _, err := fmt.Fprintln(fh, token.NewKEK()); err != nil {
		fh.Close()
		return fmt.Errorf("factor key: %w", err)
	}
	return fh.Close()
}

// mfaService returns the second-factor service on the stores of the users, or nil when second
// factors are off (or cannot be offered safely, which it logs).
func (a *app) mfaService() (*mfa.Service, error) {
	if !a.cfg.mfa.Enabled {
		return nil, nil
	}
	key, from, err := a.factorKey()
	if err != nil {
		return nil, err
	}
	if key == nil && len(a.cfg.mfa.RequireRoles) > 0 {
		return nil, errors.New("--require-mfa-roles: second factors cannot be offered: with users in PostgreSQL every instance needs the same factor key (--factor-key-file, or --key-store postgres with its key-encryption key)")
	}
	if key == nil {
		a.log.Warn("second factors cannot be offered (users who have one are refused until this is fixed): with users in PostgreSQL every instance needs the same factor key (--factor-key-file, or --key-store postgres with its key-encryption key)")
		return nil, nil
	}
	sealer, err := mfa.NewSealer(key)
	if err != nil {
		return nil, err
	}
	factors, challenges := a.factorStores()
	cfg := mfa.Config{Factors: factors, Challenges: challenges, Sealer: sealer, Issuer: a.cfg.mfa.TOTPIssuer, Now: a.now}
	if a.cfg.mfa.WebAuthnRPID != "" {
		cfg.WebAuthn = &mfa.WebAuthnConfig{RPID: a.cfg.mfa.WebAuthnRPID, Origins: a.cfg.mfa.WebAuthnOrigins, DisplayName: a.cfg.mfa.WebAuthnName}
	}
	svc, err := mfa.New(cfg)
	if err != nil {
		return nil, err
	}
	a.log.Info("second factors on", "factor_key", from, "webauthn_rp_id", a.cfg.mfa.WebAuthnRPID)
	return svc, nil
}

// unservedFactors returns the factor store when second factors are on but this server cannot
// check them (svc is nil: no factor key with users in PostgreSQL), so that a user who has one
// is refused rather than let in with the password alone; nil otherwise.
func (a *app) unservedFactors(svc *mfa.Service) gatehouse.FactorStore {
	if svc != nil || !a.cfg.mfa.Enabled {
		return nil
	}
	factors, _ := a.factorStores()
	return factors
}

// factorStores returns the second factors' stores, which live with the users.
func (a *app) factorStores() (gatehouse.FactorStore, gatehouse.ChallengeStore) {
	if a.shared.pg != nil {
		return postgres.NewFactorStore(a.shared.pg), a.challengeStore()
	}
	return sqlite.NewFactorStore(a.db), a.challengeStore()
}

// challengeStore returns the store of the steps that span requests (second factors, the
// OpenID Provider's authorization requests and codes), which lives with the users: a
// PostgreSQL table every instance shares, or SQLite on one node. Expired entries are swept.
func (a *app) challengeStore() gatehouse.ChallengeStore {
	if a.challenges != nil {
		return a.challenges
	}
	if a.shared.pg != nil {
		c := postgres.NewChallengeStore(a.shared.pg)
		a.expirers, a.challenges = append(a.expirers, c), c
		return c
	}
	c := sqlite.NewChallengeStore(a.db)
	a.expirers, a.challenges = append(a.expirers, c), c
	return c
}
