package authn

import (
	"context"
	"errors"

	"github.com/gatehouse-auth/gatehouse"
)

// ErrClientNotFound answers an unknown or malformed client id.
var ErrClientNotFound = gatehouse.Errorf(gatehouse.ENOTFOUND, "no such client")

// errNoClients answers client management on a server without an OpenID Provider.
var errNoClients = gatehouse.Errorf(gatehouse.ENOTFOUND, "this server registers no clients (no OpenID Provider)")

func (s *Service) clients() (gatehouse.ClientStore, error) {
	if s.d.Clients == nil {
		return nil, errNoClients
	}
	return s.d.Clients, nil
}

// RegisterClient registers a client for the admin actor (gatehouse.NewClient's rules) and
// returns it with its secret ("" for a public client), which the caller shows once. Audited
// as client_created.
func (s *Service) RegisterClient(ctx context.Context, actor string, spec gatehouse.ClientSpec, c Client) (*gatehouse.Client, string, error) {
	cs, err := s.clients()
	if err != nil {
		return nil, "", err
	}
	cl, secret, err := gatehouse.NewClient(spec, s.now())
	if err != nil {
		return nil, "", err
	}
	if err := cs.CreateClient(ctx, cl); err != nil {
		return nil, "", err
	}
	s.Audit(ctx, c, gatehouse.AuditEvent{Action: gatehouse.AuditClientCreated, Outcome: gatehouse.AuditSuccess, ActorID: actor, Detail: "client " + cl.ID})
	return cl, secret, nil
}

// GetClient returns the client id; ErrClientNotFound for an unknown or malformed id.
func (s *Service) GetClient(ctx context.Context, id string) (*gatehouse.Client, error) {
	cs, err := s.clients()
	if err != nil {
		return nil, err
	}
	if !gatehouse.ValidID(id) {
		return nil, ErrClientNotFound
	}
	cl, err := cs.ClientByID(ctx, id)
	if errors.Is(err, gatehouse.ErrNotFound) {
		return nil, ErrClientNotFound
	}
	return cl, err
}

// ListClients returns up to limit clients ordered by id, after the id after.
func (s *Service) ListClients(ctx context.Context, after string, limit int) ([]*gatehouse.Client, error) {
	cs, err := s.clients()
	if err != nil {
		return nil, err
	}
	return cs.ListClients(ctx, after, limit)
}

// UpdateClient applies p to the client id for the admin actor, checked like a registration.
// Audited as client_updated.
func (s *Service) UpdateClient(ctx context.Context, actor, id string, p gatehouse.ClientPatch, c Client) (*gatehouse.Client, error) {
	old, err := s.GetClient(ctx, id)
	if err != nil {
		return nil, err
	}
	cl, err := old.Patched(p)
	if err != nil {
		return nil, err
	}
	if err := s.d.Clients.UpdateClient(ctx, cl); err != nil {
		return nil, notFoundAs(err, ErrClientNotFound)
	}
	s.Audit(ctx, c, gatehouse.AuditEvent{Action: gatehouse.AuditClientUpdated, Outcome: gatehouse.AuditSuccess, ActorID: actor, Detail: "client " + id})
	return cl, nil
}

// RotateClientSecret gives the confidential client id a new secret, returned once; the old one
// stops working. A public client is bad_request. Audited as client_secret_rotated.
func (s *Service) RotateClientSecret(ctx context.Context, actor, id string, c Client) (string, error) {
	cl, err := s.GetClient(ctx, id)
	if err != nil {
		return "", err
	}
	secret, err := cl.RotateSecret()
	if err != nil {
		return "", err
	}
	if err := s.d.Clients.UpdateClient(ctx, cl); err != nil {
		return "", notFoundAs(err, ErrClientNotFound)
	}
	s.Audit(ctx, c, gatehouse.AuditEvent{Action: gatehouse.AuditClientSecretRotated, Outcome: gatehouse.AuditSuccess, ActorID: actor, Detail: "client " + id})
	return secret, nil
}

// DeleteClient removes the client id (and, in the store, the grants to it). Audited as
// client_deleted.
func (s *Service) DeleteClient(ctx context.Context, actor, id string, c Client) error {
	if _, err := s.GetClient(ctx, id); err != nil {
		return err
	}
	if err := s.d.Clients.DeleteClient(ctx, id); err != nil {
		return notFoundAs(err, ErrClientNotFound)
	}
	s.Audit(ctx, c, gatehouse.AuditEvent{Action: gatehouse.AuditClientDeleted, Outcome: gatehouse.AuditSuccess, ActorID: actor, Detail: "client " + id})
	return nil
}
