package authn

import (
	"context"
	"log/slog"

	"github.com/gatehouse-auth/gatehouse"
	"github.com/gatehouse-auth/gatehouse/account"
)

// Audit records e, completed with its id, time, and the client's address and user agent: in
// the logs (always, as a structured "audit" record) and in the audit store when there is one.
// Storing is best effort: the action it records has already happened, so a failure is logged
// and does not change the answer. No event carries a secret. The use cases record their own
// events; transports call Audit only for events of their own.
func (s *Service) Audit(ctx context.Context, c Client, e gatehouse.AuditEvent) {
	now := s.now()
	e.ID, e.Time = gatehouse.NewID(now), now
	e.IP, e.UserAgent = c.IP, gatehouse.CleanUserAgent(c.UserAgent, '?')
	// The client hanging up must not lose the record.
	ctx = context.WithoutCancel(ctx)
	level := slog.LevelInfo
	if e.Outcome != gatehouse.AuditSuccess {
		level = slog.LevelWarn
	}
	s.log.LogAttrs(ctx, level, "audit", slog.String("event_id", e.ID), slog.String("action", e.Action),
		slog.String("outcome", e.Outcome), slog.String("user_id", e.UserID), slog.String("actor_id", e.ActorID),
		slog.String("ip", e.IP), slog.String("user_agent", e.UserAgent), slog.String("detail", e.Detail))
	if s.d.Audit == nil {
		return
	}
	if err := s.d.Audit.AppendAudit(ctx, &e); err != nil {
		s.log.WarnContext(ctx, "audit: storing an event failed", "event_id", e.ID, "action", e.Action, "err", err)
	}
}

// accountID returns the id of the account username names, or "".
func (s *Service) accountID(ctx context.Context, username string) string {
	if account.ValidateUsername(username) != nil {
		return ""
	}
	u, err := s.d.Users.UserByUsername(ctx, username)
	if err != nil {
		return ""
	}
	return u.ID
}

// auditUserUpdate records each change an update made; actor is who made it.
func (s *Service) auditUserUpdate(ctx context.Context, c Client, actor string, old, u *gatehouse.User, upd gatehouse.UserUpdate) {
	ev := func(action, detail string) {
		s.Audit(ctx, c, gatehouse.AuditEvent{Action: action, Outcome: gatehouse.AuditSuccess, UserID: u.ID, ActorID: actor, Detail: detail})
	}
	if old.Role != u.Role {
		ev(gatehouse.AuditRoleChanged, string(old.Role)+"->"+string(u.Role))
	}
	if !old.Disabled && u.Disabled {
		ev(gatehouse.AuditUserDisabled, "")
	}
	if old.Disabled && !u.Disabled {
		ev(gatehouse.AuditUserEnabled, "")
	}
	if upd.PasswordHash != nil {
		ev(gatehouse.AuditPasswordChanged, "")
	}
}

// ListAudit returns the events q selects, newest first; ErrNoAuditTrail without an audit store.
func (s *Service) ListAudit(ctx context.Context, q gatehouse.AuditQuery) ([]*gatehouse.AuditEvent, error) {
	if s.d.Audit == nil {
		return nil, ErrNoAuditTrail
	}
	return s.d.Audit.ListAudit(ctx, q)
}

// KeepsAudit reports whether there is an audit store.
func (s *Service) KeepsAudit() bool { return s.d.Audit != nil }
