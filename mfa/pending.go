package mfa

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"slices"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"

	"github.com/gatehouse-auth/gatehouse"
)

// PendingSecondStep returns the second step that token still waits for: its methods as they
// are now and, when "webauthn" is among them, the assertion request of the step's challenge
// again (the same challenge: a wrong answer leaves the token alive). A form that answered
// wrong asks with it once more. Errors: ErrInvalidChallenge.
func (s *Service) PendingSecondStep(ctx context.Context, token string) (*Pending, error) {
	c, err := s.findChallenge(ctx, token, purposeSecondStep)
	if err != nil {
		return nil, err
	}
	methods, err := s.Methods(ctx, c.UserID)
	if err != nil {
		return nil, err
	}
	p := &Pending{Token: token, Methods: methods}
	if slices.Contains(methods, gatehouse.FactorWebAuthn) && len(c.Data) > 0 {
		if p.WebAuthn, err = s.assertionOf(c.Data); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// assertionOf rebuilds the assertion request whose session data is data.
func (s *Service) assertionOf(data []byte) (*protocol.CredentialAssertion, error) {
	var session webauthn.SessionData
	if err := json.Unmarshal(data, &session); err != nil {
		return nil, fmt.Errorf("mfa: read a WebAuthn session: %w", err)
	}
	challenge, err := base64.RawURLEncoding.DecodeString(session.Challenge)
	if err != nil {
		return nil, fmt.Errorf("mfa: read a WebAuthn challenge: %w", err)
	}
	o := protocol.PublicKeyCredentialRequestOptions{Challenge: challenge, RelyingPartyID: session.RelyingPartyID,
		UserVerification: session.UserVerification, Timeout: int(s.wa.Config.Timeouts.Login.Timeout.Milliseconds())}
	for _, id := range session.AllowedCredentialIDs {
		o.AllowedCredentials = append(o.AllowedCredentials, protocol.CredentialDescriptor{Type: protocol.PublicKeyCredentialType, CredentialID: id})
	}
	return &protocol.CredentialAssertion{Response: o}, nil
}
