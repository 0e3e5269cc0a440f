package authn

import (
	"context"

	"github.com/gatehouse-auth/gatehouse"
	"github.com/gatehouse-auth/gatehouse/account"
)

// SendVerification mails a verification link to the user's address (on registration, on a
// change of address, or when the user asks again). It is throttled per account
// (Limits.VerifyAccount: a ThrottledError), returns ErrNoEmail for an account without an
// address, nil without sending for an address already verified, and ErrMailUnavailable when
// the server sends no mail.
func (s *Service) SendVerification(ctx context.Context, userID string, c Client) error {
	u, err := s.User(ctx, userID)
	if err != nil {
		return err
	}
	switch {
	case s.d.Mailer == nil || s.d.Links == nil:
		return ErrMailUnavailable
	case u.Email == "":
		return ErrNoEmail
	case u.EmailVerified:
		return nil
	}
	return s.sendVerificationTo(ctx, u, u.Email, c)
}

func (s *Service) sendVerificationTo(ctx context.Context, u *gatehouse.User, to string, c Client) error {
	if err := s.admitMail(ctx, "verify:user:"+u.ID, s.limits.VerifyAccount, "verify:ip:"+AddrKey(c.Addr), s.limits.ResetIP); err != nil {
		return err
	}
	return s.mailLink(ctx, u, gatehouse.LinkVerify, to)
}

// ChangeEmail is a user's change of their own address: the address is checked, and a
// verification link is mailed to it; the account keeps its current address until the link is
// opened (VerifyEmail), so that nobody can take an address they cannot read. An address that
// another account has is refused only then, so that this call does not tell which addresses
// have accounts. Errors: bad_request naming email, ErrMailUnavailable, a ThrottledError.
func (s *Service) ChangeEmail(ctx context.Context, userID, email string, c Client) error {
	if email == "" {
		return badRequest("email: is required (an address cannot be removed this way; ask an admin)")
	}
	if err := account.ValidateEmail(email); err != nil {
		return err
	}
	if s.d.Mailer == nil || s.d.Links == nil {
		return ErrMailUnavailable
	}
	u, err := s.User(ctx, userID)
	if err != nil {
		return err
	}
	return s.sendVerificationTo(ctx, u, email, c)
}

// VerifyEmail redeems a verification link: the address it was sent to becomes the account's,
// verified. emaillink.ErrInvalidLink for a link that is not live or an account that is
// disabled; gatehouse.ErrEmailTaken when another account took the address meanwhile. Audited
// as email_verified.
func (s *Service) VerifyEmail(ctx context.Context, secret string, c Client) (*gatehouse.User, error) {
	if s.d.Links == nil {
		return nil, ErrMailUnavailable
	}
	l, err := s.d.Links.Redeem(ctx, secret, gatehouse.LinkVerify)
	if err != nil {
		return nil, err
	}
	u, err := s.linkUser(ctx, l, c, gatehouse.AuditEmailVerified)
	if err != nil {
		return nil, err
	}
	yes := true
	upd := gatehouse.UserUpdate{EmailVerified: &yes}
	if l.Email != u.Email {
		upd.Email = &l.Email
	}
	u, err = s.d.Users.UpdateUser(ctx, u.ID, upd)
	if err != nil {
		return nil, notFoundAs(err, ErrUserNotFound)
	}
	s.Audit(ctx, c, gatehouse.AuditEvent{Action: gatehouse.AuditEmailVerified, Outcome: gatehouse.AuditSuccess, UserID: u.ID,
		ActorID: u.ID, Detail: "address " + u.Email})
	return u, nil
}
