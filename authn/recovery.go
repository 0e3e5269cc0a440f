package authn

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/gatehouse-auth/gatehouse"
	"github.com/gatehouse-auth/gatehouse/account"
	"github.com/gatehouse-auth/gatehouse/emaillink"
)

// Password reset and e-mail verification: the use cases that work through single-use links
// sent by mail (package emaillink keeps the links, the Mailer sends them).

// ErrMailUnavailable means the server has no mailer or no link store: the flows that send
// mail are off.
var ErrMailUnavailable = gatehouse.Errorf(gatehouse.EFORBIDDEN, "this server does not send mail: ask an admin")

// ErrNoEmail answers a verification asked for an account without an address.
var ErrNoEmail = badRequest("email: the account has no e-mail address")

// ErrEmailUnverified answers a login when the policy requires a verified address and the
// account has none.
var ErrEmailUnverified = gatehouse.Errorf(gatehouse.EFORBIDDEN, "the e-mail address of this account is not verified: open the link sent to it, or ask for a new one")

// maxBackgroundMail bounds the reset requests handled at once in the background; beyond it a
// request is dropped (and logged), which an attacker flooding the endpoint cannot tell apart.
const maxBackgroundMail = 32

// backgroundMailTimeout bounds one background reset request (look-up, link, SMTP).
const backgroundMailTimeout = time.Minute

// ForgotPassword asks for a reset link for the account that has the address email. It answers
// the same (nil) at once whether or not such an account exists, is disabled, or the mail can be
// sent: the look-up and the mail happen in the background, so neither the answer nor its time
// tells an address that has an account from one that has none. It returns bad_request for a
// malformed address, ErrMailUnavailable when the server sends no mail, and a ThrottledError
// when the client address, or the address asked for, is over its budget (the budget counts
// every request, so the 429 says nothing about the account either).
func (s *Service) ForgotPassword(ctx context.Context, email string, c Client) error {
	if s.d.Mailer == nil || s.d.Links == nil {
		return ErrMailUnavailable
	}
	if email == "" {
		return badRequest("email: is required")
	}
	if err := account.ValidateEmail(email); err != nil {
		return err
	}
	if err := s.admitMail(ctx, "reset:ip:"+AddrKey(c.Addr), s.limits.ResetIP,
		"reset:email:"+gatehouse.NormalizeEmail(email), s.limits.ResetAddress); err != nil {
		return err
	}
	s.inBackground(ctx, func(ctx context.Context) { s.sendReset(ctx, email, c) })
	return nil
}

// admitMail counts one mail-sending request under two keys; a ThrottledError when either must
// wait.
func (s *Service) admitMail(ctx context.Context, k1 string, b1 gatehouse.Backoff, k2 string, b2 gatehouse.Backoff) error {
	if s.d.Throttle == nil {
		return nil
	}
	wait, err := s.d.Throttle.Attempt(ctx, gatehouse.Limit{Key: k1, Backoff: b1}, gatehouse.Limit{Key: k2, Backoff: b2})
	if err != nil {
		return err
	}
	if wait > 0 {
		return &ThrottledError{Wait: wait, err: gatehouse.Errorf(gatehouse.ERATELIMITED,
			"too many requests for mail from this address or to this account; try again in %s s", retryAfterText(wait))}
	}
	return nil
}

// inBackground runs fn detached from the request (its cancellation, not its values), at most
// maxBackgroundMail at once; WaitBackground waits for them.
func (s *Service) inBackground(ctx context.Context, fn func(context.Context)) {
	select {
	case s.mailSlots <- struct{}{}:
	default:
		s.log.WarnContext(ctx, "mail: too many requests in flight; one was dropped")
		return
	}
	s.background.Add(1)
	go func() {
		defer func() { <-s.mailSlots; s.background.Done() }()
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), backgroundMailTimeout)
		defer cancel()
		fn(ctx)
	}()
}

// WaitBackground waits until the mail requests running in the background are done (for a
// graceful stop, and for tests).
func (s *Service) WaitBackground() { s.background.Wait() }

// sendReset mails a reset link to the account with the address email, if there is one and it
// is enabled.
func (s *Service) sendReset(ctx context.Context, email string, c Client) {
	u, err := s.d.Users.UserByEmail(ctx, email)
	if isNotFound(err) {
		s.log.DebugContext(ctx, "password reset asked for an address no account has")
		return
	}
	if err != nil {
		s.log.WarnContext(ctx, "password reset: looking the address up failed", "err", err)
		return
	}
	ev := gatehouse.AuditEvent{Action: gatehouse.AuditResetRequested, Outcome: gatehouse.AuditSuccess, UserID: u.ID}
	if u.Disabled {
		ev.Outcome, ev.Detail = gatehouse.AuditFailure, "account disabled: no mail sent"
		s.Audit(ctx, c, ev)
		return
	}
	if err := s.mailLink(ctx, u, gatehouse.LinkReset, u.Email); err != nil {
		ev.Outcome, ev.Detail = gatehouse.AuditFailure, "mail not sent: "+gatehouse.ErrorCode(err)
		s.log.WarnContext(ctx, "password reset: the mail was not sent", "user_id", u.ID, "err", err)
	}
	s.Audit(ctx, c, ev)
}

// mailLink issues a link of purpose p for u, sent to the address to, and mails it.
func (s *Service) mailLink(ctx context.Context, u *gatehouse.User, p gatehouse.LinkPurpose, to string) error {
	secret, l, err := s.d.Links.Issue(ctx, u.ID, p, to)
	if err != nil {
		return err
	}
	path := "/reset?token="
	kind := gatehouse.MailReset
	if p == gatehouse.LinkVerify {
		path, kind = "/verify?token=", gatehouse.MailVerify
	}
	return s.d.Mailer.Send(ctx, gatehouse.Mail{Kind: kind, To: to, ToName: u.Name, Username: u.Username,
		Link: strings.TrimSuffix(s.d.Tokens.Issuer(), "/") + path + secret, Expires: l.ExpiresAt.Sub(l.CreatedAt)})
}

// ResetPassword sets a new password through a reset link's secret. The link must be live, for
// an enabled account whose address is still the one the link was sent to; otherwise
// emaillink.ErrInvalidLink, whatever the reason. A password the policy refuses answers
// bad_request naming "password", and the link stays usable. On success every session, token
// and refresh family of the user is revoked first (as any password change does), the
// address counts as verified (the link proved it), every other reset link is voided, and the
// reset is audited.
func (s *Service) ResetPassword(ctx context.Context, secret, password string, c Client) (*gatehouse.User, error) {
	if s.d.Links == nil {
		return nil, ErrMailUnavailable
	}
	l, err := s.d.Links.Redeem(ctx, secret, gatehouse.LinkReset)
	if err != nil {
		return nil, err
	}
	u, err := s.linkUser(ctx, l, c, gatehouse.AuditPasswordReset)
	if err != nil {
		return nil, err
	}
	hash, err := s.d.Accounts.HashPassword(ctx, u.Username, password)
	if err != nil {
		s.restoreLink(ctx, l) // a weak password must not cost the user their link
		return nil, err
	}
	yes := true
	_, u, err = s.applyUserUpdate(ctx, u.ID, gatehouse.UserUpdate{PasswordHash: &hash, EmailVerified: &yes})
	if err != nil {
		return nil, err
	}
	if err := s.d.Links.Revoke(ctx, u.ID, gatehouse.LinkReset); err != nil {
		s.log.WarnContext(ctx, "password reset: voiding the other reset links failed", "err", err)
	}
	s.Audit(ctx, c, gatehouse.AuditEvent{Action: gatehouse.AuditPasswordReset, Outcome: gatehouse.AuditSuccess, UserID: u.ID,
		ActorID: u.ID, Detail: "through a link mailed to the account's address" + c.channel()})
	return u, nil
}

// linkUser returns the user a redeemed link is for, if the account is enabled and still has
// the address the link was sent to; emaillink.ErrInvalidLink otherwise (audited as a failure
// of action).
func (s *Service) linkUser(ctx context.Context, l *gatehouse.EmailLink, c Client, action string) (*gatehouse.User, error) {
	u, err := s.d.Users.UserByID(ctx, l.UserID)
	if isNotFound(err) {
		return nil, emaillink.ErrInvalidLink
	}
	if err != nil {
		return nil, err
	}
	reason := ""
	switch {
	case u.Disabled:
		reason = "account disabled"
	case l.Purpose == gatehouse.LinkReset && gatehouse.NormalizeEmail(u.Email) != gatehouse.NormalizeEmail(l.Email):
		reason = "the account's address changed since the link was sent"
	}
	if reason != "" {
		s.Audit(ctx, c, gatehouse.AuditEvent{Action: action, Outcome: gatehouse.AuditFailure, UserID: u.ID, Detail: reason})
		return nil, emaillink.ErrInvalidLink
	}
	return u, nil
}

// restoreLink puts a redeemed link back (best effort).
func (s *Service) restoreLink(ctx context.Context, l *gatehouse.EmailLink) {
	if err := s.d.Links.Restore(context.WithoutCancel(ctx), l); err != nil && !errors.Is(err, gatehouse.ErrConflict) {
		s.log.WarnContext(ctx, "password reset: the link could not be restored after a refused password", "err", err)
	}
}
