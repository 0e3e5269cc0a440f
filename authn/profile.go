package authn

import (
	"context"
	"strings"

	"github.com/gatehouse-auth/gatehouse"
	"github.com/gatehouse-auth/gatehouse/account"
)

// ProfileChange is what users may change of their own account; nil fields stay.
type ProfileChange struct {
	Name *string
	// Email is a new address: it replaces the current one only once the link mailed to it is
	// opened (VerifyEmail).
	Email *string
}

// UpdateProfile applies ch to the caller a. The name changes at once; a new address goes
// through a verification link (ChangeEmail) and sent says that a link went out; the same
// address in another case is saved at once and stays verified. A session or token depends on
// neither, so nothing is revoked; a change is audited as profile_changed. Every field is
// checked before anything changes: bad_request naming the field, ErrMailUnavailable for a new
// address when the server sends no mail, a ThrottledError when verification mails come too
// often.
func (s *Service) UpdateProfile(ctx context.Context, a gatehouse.Auth, ch ProfileChange, c Client) (u *gatehouse.User, sent bool, err error) {
	if err := validateProfile(ch); err != nil {
		return nil, false, err
	}
	if u, err = s.Me(ctx, a); err != nil {
		return nil, false, err
	}
	var upd gatehouse.UserUpdate
	var what []string
	if ch.Name != nil && *ch.Name != u.Name {
		upd.Name, what = ch.Name, append(what, "name")
	}
	if ch.Email != nil && *ch.Email != u.Email {
		if gatehouse.NormalizeEmail(*ch.Email) == gatehouse.NormalizeEmail(u.Email) {
			upd.Email, what = ch.Email, append(what, "e-mail address (case)")
		} else {
			if err := s.ChangeEmail(ctx, u.ID, *ch.Email, c); err != nil {
				return nil, false, err
			}
			sent = true
		}
	}
	if len(what) == 0 {
		return u, sent, nil
	}
	if u, err = s.d.Users.UpdateUser(ctx, u.ID, upd); err != nil {
		return nil, sent, notFoundAs(err, ErrUserNotFound)
	}
	s.Audit(ctx, c, gatehouse.AuditEvent{Action: gatehouse.AuditProfileChanged, Outcome: gatehouse.AuditSuccess,
		UserID: u.ID, ActorID: u.ID, Detail: strings.Join(what, ", ") + c.channel()})
	return u, sent, nil
}

func validateProfile(ch ProfileChange) error {
	if ch.Name != nil {
		if err := account.ValidateName(*ch.Name); err != nil {
			return err
		}
	}
	if ch.Email != nil {
		if *ch.Email == "" {
			return badRequest("email: cannot be removed by its owner (an admin can)")
		}
		return account.ValidateEmail(*ch.Email)
	}
	return nil
}
