package authn

import (
	"context"
	"errors"
	"fmt"

	"github.com/gatehouse-auth/gatehouse"
)

// GrantView is one of a user's grants to an application, with the application's name.
type GrantView struct {
	gatehouse.Grant
	ClientName string `json:"client_name"`
}

// ListGrants returns the applications the user granted access to, ordered by client id; none
// when the server keeps no grants (no OpenID Provider).
func (s *Service) ListGrants(ctx context.Context, userID string) ([]GrantView, error) {
	out := []GrantView{}
	if s.d.Grants == nil {
		return out, nil
	}
	grants, err := s.d.Grants.ListGrants(ctx, userID)
	if err != nil {
		return nil, err
	}
	for _, g := range grants {
		v := GrantView{Grant: *g, ClientName: g.ClientID}
		if s.d.Clients != nil {
			if c, err := s.d.Clients.ClientByID(ctx, g.ClientID); err == nil {
				v.ClientName = c.Name
			} else if !errors.Is(err, gatehouse.ErrNotFound) {
				return nil, err
			}
		}
		out = append(out, v)
	}
	return out, nil
}

// RevokeGrant withdraws the user's grant to the application clientID: the application's
// refresh tokens for the user stop working at once, and its next sign-in asks for consent
// again. It returns gatehouse.ErrNotFound when there is no such grant. It is audited as
// grant_revoked.
func (s *Service) RevokeGrant(ctx context.Context, userID, clientID string, c Client) error {
	if s.d.Grants == nil || !gatehouse.ValidID(clientID) {
		return fmt.Errorf("authn: revoke grant: %w", gatehouse.ErrNotFound)
	}
	found, err := s.d.Grants.DeleteGrant(ctx, userID, clientID)
	if err != nil {
		return err
	}
	if !found {
		return fmt.Errorf("authn: revoke grant: %w", gatehouse.ErrNotFound)
	}
	s.Audit(ctx, c, gatehouse.AuditEvent{Action: gatehouse.AuditGrantRevoked, Outcome: gatehouse.AuditSuccess,
		UserID: userID, ActorID: userID, Detail: "client " + clientID})
	return nil
}
