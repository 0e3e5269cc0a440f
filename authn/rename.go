package authn

import (
	"context"

	"github.com/gatehouse-auth/gatehouse"
)

// RenameWebAuthnCredential gives one of the user's security keys or passkeys a new name
// (audited as factor_renamed). Errors: a bad_request *gatehouse.Error for a bad name (over 64
// characters, control characters), gatehouse.ErrNotFound when the user has no such credential.
func (s *Service) RenameWebAuthnCredential(ctx context.Context, who gatehouse.Principal, id []byte, name string, c Client) error {
	m, err := s.mfaService()
	if err != nil {
		return err
	}
	err = m.RenameWebAuthnCredential(ctx, who.UserID, id, name)
	if err == nil {
		s.auditFactor(ctx, c, gatehouse.AuditFactorRenamed, who.UserID, gatehouse.FactorWebAuthn, name, nil)
	}
	return err
}
