package authn

import (
	"context"
	"strings"

	"github.com/gatehouse-auth/gatehouse"
)

// DeleteOwnAccount is a user's erasure of their own account (DELETE /api/me). Two things stand
// between a request and the deletion, because it cannot be undone: the account's password,
// checked again under the login throttles (a stolen session or token alone is not enough; a
// wrong one is a bad_request naming password, as the caller is authenticated), and confirm,
// which must be the account's username (a client that sends the request by mistake, or a
// click, is not enough either). Then every session, access token and refresh family of the
// user is revoked (RevokeEverywhere, with its barrier), the pending e-mail links are voided,
// and the account goes with its second factors. It is audited as user_deleted with the user
// as actor; the audit trail keeps its events, which name the user by id, until they age out.
//
// Errors: bad_request naming confirm_username or password, a ThrottledError while the client
// must hold off, ErrUserNotFound when the account is already gone, and the stores' errors.
func (s *Service) DeleteOwnAccount(ctx context.Context, who gatehouse.Principal, password, confirm string, c Client) error {
	switch {
	case !strings.EqualFold(strings.TrimSpace(confirm), who.Username):
		return badRequest("confirm_username: must be the account's username, " + who.Username)
	case password == "":
		return badRequest("password: is required")
	}
	_, err := s.checkPassword(ctx, c, passwordCheck{username: who.Username, password: password,
		action: gatehouse.AuditUserDeleted, what: "password"})
	switch {
	case gatehouse.ErrorCode(err) == gatehouse.EINVALIDCREDENTIALS:
		return badRequest("password: is not correct")
	case err != nil:
		return err
	}
	if err := s.RevokeEverywhere(ctx, who.UserID); err != nil {
		return err
	}
	s.revokeLinks(ctx, who.UserID)
	if err := s.d.Users.DeleteUser(ctx, who.UserID); err != nil {
		return notFoundAs(err, ErrUserNotFound)
	}
	s.Audit(ctx, c, gatehouse.AuditEvent{Action: gatehouse.AuditUserDeleted, Outcome: gatehouse.AuditSuccess,
		UserID: who.UserID, ActorID: who.UserID, Detail: "deleted by the user" + c.channel()})
	return nil
}
