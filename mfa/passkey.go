package mfa

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"

	"github.com/gatehouse-auth/gatehouse"
)

// verifyAssertion checks a WebAuthn assertion against the ceremony kept in c (a second step,
// whose user is c.UserID) and records the credential's use.
func (s *Service) verifyAssertion(ctx context.Context, c *gatehouse.Challenge, response json.RawMessage) (*gatehouse.WebAuthnCredential, error) {
	session, parsed, err := s.parseAssertion(c, response)
	if err != nil {
		return nil, err
	}
	creds, err := s.factors.WebAuthnCredentials(ctx, c.UserID)
	if err != nil {
		return nil, err
	}
	wc, err := s.wa.ValidateLogin(waUser(c.UserID, creds), *session, parsed)
	if err != nil {
		return nil, fmt.Errorf("%w (%v)", ErrWebAuthnFailed, err)
	}
	return s.recordUse(ctx, c.UserID, creds, wc)
}

func (s *Service) parseAssertion(c *gatehouse.Challenge, response json.RawMessage) (*webauthn.SessionData, *protocol.ParsedCredentialAssertionData, error) {
	var session webauthn.SessionData
	if err := json.Unmarshal(c.Data, &session); err != nil || len(c.Data) == 0 {
		return nil, nil, fmt.Errorf("mfa: stored WebAuthn session: %w", ErrWebAuthnFailed)
	}
	if len(response) == 0 || len(response) > maxWebAuthnResponse {
		return nil, nil, ErrWebAuthnFailed
	}
	parsed, err := protocol.ParseCredentialRequestResponseBytes(response)
	if err != nil {
		return nil, nil, fmt.Errorf("%w (%v)", ErrWebAuthnFailed, err)
	}
	return &session, parsed, nil
}

// recordUse refuses a credential whose signature counter went backwards (a cloned
// authenticator) and stores the new counter and backup state.
func (s *Service) recordUse(ctx context.Context, userID string, creds []*gatehouse.WebAuthnCredential, wc *webauthn.Credential) (*gatehouse.WebAuthnCredential, error) {
	if wc.Authenticator.CloneWarning {
		return nil, fmt.Errorf("%w (the signature counter went backwards: a cloned authenticator?)", ErrWebAuthnFailed)
	}
	var cred *gatehouse.WebAuthnCredential
	for _, c := range creds {
		if bytes.Equal(c.ID, wc.ID) {
			cred = c
		}
	}
	if cred == nil {
		return nil, ErrWebAuthnFailed
	}
	use := gatehouse.WebAuthnUse{SignCount: wc.Authenticator.SignCount, BackupState: wc.Flags.BackupState, At: s.now()}
	found, err := s.factors.RecordWebAuthnUse(ctx, userID, cred.ID, use)
	if err != nil {
		return nil, err
	}
	if !found { // removed meanwhile
		return nil, ErrWebAuthnFailed
	}
	cred.SignCount, cred.BackupState, cred.LastUsedAt = use.SignCount, use.BackupState, use.At
	return cred, nil
}

// PasskeyRequest is a started sign-in with a passkey: the token that names it and the options
// for navigator.credentials.get.
type PasskeyRequest struct {
	Token   string
	Options *protocol.CredentialAssertion
}

// BeginPasskeyLogin starts a sign-in without a username: the browser offers the user's
// passkeys for this relying party, and the one chosen names the user. User verification (a
// PIN or a biometric on the authenticator) is required, so that the passkey alone is two
// factors: something the user has and something the user knows or is. mode is the sign-in
// mode the result will carry.
func (s *Service) BeginPasskeyLogin(ctx context.Context, mode string) (*PasskeyRequest, error) {
	if s.wa == nil {
		return nil, ErrWebAuthnDisabled
	}
	options, session, err := s.wa.BeginDiscoverableLogin(webauthn.WithUserVerification(protocol.VerificationRequired))
	if err != nil {
		return nil, fmt.Errorf("mfa: begin passkey sign-in: %w", err)
	}
	data, err := json.Marshal(session)
	if err != nil {
		return nil, err
	}
	token, err := s.putChallenge(ctx, &gatehouse.Challenge{Purpose: purposePasskey, Mode: mode, Data: data})
	if err != nil {
		return nil, err
	}
	return &PasskeyRequest{Token: token, Options: options}, nil
}

// FinishPasskeyLogin verifies the browser's answer to the passkey sign-in of token. The token is
// used up whatever the answer. On success the result names the passkey's owner, the mode of
// BeginPasskeyLogin and the methods (the key's "hwk" or "swk", and "mfa": the authenticator
// verified the user). The caller checks that the user may sign in (not disabled). Errors:
// ErrInvalidChallenge, ErrWebAuthnFailed (also for a credential nobody registered).
func (s *Service) FinishPasskeyLogin(ctx context.Context, token string, response json.RawMessage) (*Passed, error) {
	if s.wa == nil {
		return nil, ErrWebAuthnDisabled
	}
	c, err := s.findChallenge(ctx, token, purposePasskey)
	if err != nil {
		return nil, err
	}
	if err := s.takeChallenge(ctx, token); err != nil {
		return nil, err
	}
	session, parsed, err := s.parseAssertion(c, response)
	if err != nil {
		return nil, err
	}
	var owner string
	var creds []*gatehouse.WebAuthnCredential
	handler := func(rawID, handle []byte) (webauthn.User, error) {
		cred, found, err := s.factors.WebAuthnCredentialByID(ctx, rawID)
		if err != nil {
			return nil, err
		}
		if !found || !bytes.Equal(handle, userHandle(cred.UserID)) {
			return nil, fmt.Errorf("no credential with that id and user handle")
		}
		if creds, err = s.factors.WebAuthnCredentials(ctx, cred.UserID); err != nil {
			return nil, err
		}
		owner = cred.UserID
		return waUser(owner, creds), nil
	}
	_, wc, err := s.wa.ValidatePasskeyLogin(handler, *session, parsed)
	if err != nil {
		if gatehouse.ErrorCode(err) == gatehouse.EUNAVAILABLE {
			return nil, err
		}
		return nil, fmt.Errorf("%w (%v)", ErrWebAuthnFailed, err)
	}
	cred, err := s.recordUse(ctx, owner, creds, wc)
	if err != nil {
		return nil, err
	}
	return &Passed{UserID: owner, Mode: c.Mode, AMR: []string{keyAMR(cred), gatehouse.AMRMFA}, Credential: cred.ID}, nil
}
