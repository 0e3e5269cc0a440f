package mfa

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"

	"github.com/gatehouse-auth/gatehouse"
)

// MaxCredentialName is the longest name of a WebAuthn credential, in characters.
const MaxCredentialName = 64

// maxWebAuthnResponse bounds the JSON of a browser's answer before it is parsed.
const maxWebAuthnResponse = 64 << 10

// newRelyingParty checks cfg strictly and returns the WebAuthn relying party.
func newRelyingParty(cfg *WebAuthnConfig, issuer string) (*webauthn.WebAuthn, error) {
	if cfg.RPID == "" || len(cfg.Origins) == 0 {
		return nil, errors.New("mfa: WebAuthn needs a relying party id and at least one origin")
	}
	for _, o := range cfg.Origins {
		u, err := url.Parse(o)
		if err != nil || u.Scheme == "" || u.Host == "" || u.Path != "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
			return nil, fmt.Errorf("mfa: WebAuthn origin %q: must be scheme://host[:port] and nothing else", o)
		}
		host := u.Hostname()
		if host != cfg.RPID && !strings.HasSuffix(host, "."+cfg.RPID) {
			return nil, fmt.Errorf("mfa: WebAuthn origin %q is not within the relying party id %q", o, cfg.RPID)
		}
		if u.Scheme != "https" && host != "localhost" {
			return nil, fmt.Errorf("mfa: WebAuthn origin %q: browsers allow WebAuthn only over https (or on localhost)", o)
		}
	}
	name := cfg.DisplayName
	if name == "" {
		name = issuer
	}
	wa, err := webauthn.New(&webauthn.Config{RPID: cfg.RPID, RPDisplayName: name, RPOrigins: cfg.Origins,
		AttestationPreference: protocol.PreferNoAttestation})
	if err != nil {
		return nil, fmt.Errorf("mfa: WebAuthn relying party: %w", err)
	}
	return wa, nil
}

// waUser adapts a user and their credentials to the webauthn library. The user handle is the
// 16 bytes of the user's id: opaque, and no personal information.
type waUserAdapter struct {
	id    []byte
	name  string
	creds []webauthn.Credential
}

func (u *waUserAdapter) WebAuthnID() []byte                         { return u.id }
func (u *waUserAdapter) WebAuthnName() string                       { return u.name }
func (u *waUserAdapter) WebAuthnDisplayName() string                { return u.name }
func (u *waUserAdapter) WebAuthnCredentials() []webauthn.Credential { return u.creds }

// userHandle returns the WebAuthn user handle of userID.
func userHandle(userID string) []byte {
	b, ok := gatehouse.IDBytes(userID)
	if !ok { // ids not made by NewID (imported accounts): their bytes, at most 64 as WebAuthn allows
		return []byte(userID)[:min(len(userID), 64)]
	}
	return b[:]
}

func waUser(userID string, creds []*gatehouse.WebAuthnCredential) *waUserAdapter {
	u := &waUserAdapter{id: userHandle(userID), name: userID}
	for _, c := range creds {
		u.creds = append(u.creds, toLibrary(c))
	}
	return u
}

func toLibrary(c *gatehouse.WebAuthnCredential) webauthn.Credential {
	wc := webauthn.Credential{ID: c.ID, PublicKey: c.PublicKey, AttestationType: c.AttestationType,
		Flags: webauthn.CredentialFlags{UserPresent: true, UserVerified: c.UserVerified,
			BackupEligible: c.BackupEligible, BackupState: c.BackupState},
		Authenticator: webauthn.Authenticator{AAGUID: c.AAGUID, SignCount: c.SignCount}}
	for _, t := range c.Transports {
		wc.Transport = append(wc.Transport, protocol.AuthenticatorTransport(t))
	}
	return wc
}

// Registration is a started WebAuthn registration: the token that names it and the options for
// navigator.credentials.create.
type Registration struct {
	Token   string
	Options *protocol.CredentialCreation
}

// BeginWebAuthnRegistration starts registering a security key or passkey for u. The browser
// is asked for a discoverable credential (a passkey) if the authenticator can make one, and
// told the user's existing credentials so that one authenticator is not registered twice.
func (s *Service) BeginWebAuthnRegistration(ctx context.Context, u *gatehouse.User) (*Registration, error) {
	if s.wa == nil {
		return nil, ErrWebAuthnDisabled
	}
	creds, err := s.factors.WebAuthnCredentials(ctx, u.ID)
	if err != nil {
		return nil, err
	}
	user := waUser(u.ID, creds)
	user.name = u.Username
	var exclude []protocol.CredentialDescriptor
	for _, c := range user.creds {
		exclude = append(exclude, c.Descriptor())
	}
	options, session, err := s.wa.BeginRegistration(user,
		webauthn.WithExclusions(exclude),
		webauthn.WithResidentKeyRequirement(protocol.ResidentKeyRequirementPreferred),
		webauthn.WithExtensions(webauthn.WithExtensionCredProps()))
	if err != nil {
		return nil, fmt.Errorf("mfa: begin WebAuthn registration: %w", err)
	}
	data, err := json.Marshal(session)
	if err != nil {
		return nil, err
	}
	token, err := s.putChallenge(ctx, &gatehouse.Challenge{Purpose: purposeRegister, UserID: u.ID, Data: data})
	if err != nil {
		return nil, err
	}
	return &Registration{Token: token, Options: options}, nil
}

// FinishWebAuthnRegistration verifies the browser's answer to the registration of token for
// userID and stores the credential under name (a default name when empty). It returns new
// recovery codes when the user had none left (the first factor). Errors: ErrInvalidChallenge
// (unknown, expired, used, or another user's token), a bad_request *gatehouse.Error for a bad
// name, ErrWebAuthnFailed, and gatehouse.ErrConflict when the credential is registered already.
func (s *Service) FinishWebAuthnRegistration(ctx context.Context, userID, token, name string, response json.RawMessage) (*gatehouse.WebAuthnCredential, []string, error) {
	if s.wa == nil {
		return nil, nil, ErrWebAuthnDisabled
	}
	name, err := credentialName(name)
	if err != nil {
		return nil, nil, err
	}
	c, err := s.findChallenge(ctx, token, purposeRegister)
	if err != nil {
		return nil, nil, err
	}
	if c.UserID != userID {
		return nil, nil, ErrInvalidChallenge
	}
	// The token is used up whatever the answer: a ceremony is not retried with one challenge.
	if err := s.takeChallenge(ctx, token); err != nil {
		return nil, nil, err
	}
	wc, err := s.createCredential(c, response)
	if err != nil {
		return nil, nil, err
	}
	cred := fromLibrary(userID, name, wc, s.now())
	if err := s.factors.CreateWebAuthnCredential(ctx, cred); err != nil {
		return nil, nil, err
	}
	codes, err := s.recoveryCodesIfNone(ctx, userID)
	if err != nil {
		return nil, nil, err
	}
	return cred, codes, nil
}

func (s *Service) createCredential(c *gatehouse.Challenge, response json.RawMessage) (*webauthn.Credential, error) {
	var session webauthn.SessionData
	if err := json.Unmarshal(c.Data, &session); err != nil {
		return nil, fmt.Errorf("mfa: stored WebAuthn session: %w", err)
	}
	if len(response) == 0 || len(response) > maxWebAuthnResponse {
		return nil, ErrWebAuthnFailed
	}
	parsed, err := protocol.ParseCredentialCreationResponseBytes(response)
	if err != nil {
		return nil, fmt.Errorf("%w (%v)", ErrWebAuthnFailed, err)
	}
	wc, err := s.wa.CreateCredential(&waUserAdapter{id: userHandle(c.UserID)}, session, parsed)
	if err != nil {
		return nil, fmt.Errorf("%w (%v)", ErrWebAuthnFailed, err)
	}
	return wc, nil
}

// fromLibrary returns the stored form of a credential just registered.
func fromLibrary(userID, name string, wc *webauthn.Credential, now time.Time) *gatehouse.WebAuthnCredential {
	c := &gatehouse.WebAuthnCredential{ID: wc.ID, UserID: userID, Name: name, PublicKey: wc.PublicKey,
		AttestationType: wc.AttestationType, AAGUID: wc.Authenticator.AAGUID, SignCount: wc.Authenticator.SignCount,
		UserVerified: wc.Flags.UserVerified, BackupEligible: wc.Flags.BackupEligible, BackupState: wc.Flags.BackupState,
		Discoverable: wc.Extensions.RK != nil && *wc.Extensions.RK, CreatedAt: now}
	for _, t := range wc.Transport {
		c.Transports = append(c.Transports, string(t))
	}
	if c.AttestationType == "" {
		c.AttestationType = "none"
	}
	return c
}

// credentialName checks a credential's name (trimmed; a default when empty).
func credentialName(name string) (string, error) {
	name = strings.TrimSpace(name)
	if name == "" {
		return "Security key", nil
	}
	if !utf8.ValidString(name) || utf8.RuneCountInString(name) > MaxCredentialName {
		return "", gatehouse.Errorf(gatehouse.EBADREQUEST, "name: at most %d characters of valid UTF-8", MaxCredentialName)
	}
	if strings.IndexFunc(name, unicode.IsControl) >= 0 {
		return "", gatehouse.Errorf(gatehouse.EBADREQUEST, "name: no control characters")
	}
	return name, nil
}

// RenameWebAuthnCredential renames the user's credential id; gatehouse.ErrNotFound if the user
// has no such credential.
func (s *Service) RenameWebAuthnCredential(ctx context.Context, userID string, id []byte, name string) error {
	name, err := credentialName(name)
	if err != nil {
		return err
	}
	found, err := s.factors.RenameWebAuthnCredential(ctx, userID, id, name)
	if err != nil {
		return err
	}
	if !found {
		return gatehouse.ErrNotFound
	}
	return nil
}

// RemoveWebAuthnCredential removes the user's credential id; gatehouse.ErrNotFound if the user
// has no such credential. When it was the user's last factor, the recovery codes go with it.
func (s *Service) RemoveWebAuthnCredential(ctx context.Context, userID string, id []byte) error {
	found, err := s.factors.DeleteWebAuthnCredential(ctx, userID, id)
	if err != nil {
		return err
	}
	if !found {
		return gatehouse.ErrNotFound
	}
	return s.dropCodesIfNoFactor(ctx, userID)
}
