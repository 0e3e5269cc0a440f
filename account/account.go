// Package account holds the rules of user accounts on top of a gatehouse.UserStore and a
// password hasher: validation of usernames, passwords, names and e-mail addresses, account
// creation, login (with uniform timing for unknown users and transparent rehashing when the
// hash parameters change), password changes, and the first start's admin account.
package account

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/gatehouse-auth/gatehouse"
)

// PasswordHasherWithDummy is a gatehouse.PasswordHasher that also offers a hash no password
// matches, made with its current parameters (argon2.Hasher is one).
type PasswordHasherWithDummy interface {
	gatehouse.PasswordHasher
	// DummyHash returns an encoded hash that verifying any password against costs as much as
	// verifying against a real one, and that no password matches.
	DummyHash() string
}

// BootstrapUsername is the username of the admin account Bootstrap creates.
const BootstrapUsername = "admin"

// Service applies the account rules. It is safe for concurrent use.
type Service struct {
	users        gatehouse.UserStore
	hasher       PasswordHasherWithDummy
	minLen       int
	blocklist    Blocklist
	contextWords []string
	now          func() time.Time
}

// New returns a Service. A nil now means gatehouse.Now.
func New(users gatehouse.UserStore, hasher PasswordHasherWithDummy, policy Policy, now func() time.Time) *Service {
	if now == nil {
		now = gatehouse.Now
	}
	return &Service{users: users, hasher: hasher, minLen: policy.minLength(), blocklist: policy.Blocklist,
		contextWords: policy.contextWords(), now: now}
}

// NewUser is the input of Create.
type NewUser struct {
	Username, Password, Name, Email string
	Role                            gatehouse.Role // "" means gatehouse.RoleUser
}

// Create validates in, hashes its prepared password (see ValidatePassword) and stores the new
// account. It
// returns a bad_request *gatehouse.Error naming the first invalid field, a conflict
// *gatehouse.Error "username is taken" when the username exists in any case,
// gatehouse.ErrEmailTaken when another account has the address (in any case), an error wrapping
// gatehouse.ErrBusy when the hasher is saturated, and the store's errors otherwise.
func (s *Service) Create(ctx context.Context, in NewUser) (*gatehouse.User, error) {
	role, err := s.validateNew(in)
	if err != nil {
		return nil, err
	}
	password, err := s.ValidatePassword(in.Username, in.Password)
	if err != nil {
		return nil, err
	}
	hash, err := s.hasher.Hash(ctx, password)
	if err != nil {
		return nil, err
	}
	now := s.now()
	u := &gatehouse.User{ID: gatehouse.NewID(now), Username: in.Username, Name: in.Name, Email: in.Email,
		Role: role, Groups: []string{}, CreatedAt: now, PasswordHash: hash}
	if err := s.users.CreateUser(ctx, u); err != nil {
		if errors.Is(err, gatehouse.ErrEmailTaken) {
			return nil, gatehouse.ErrEmailTaken
		}
		if errors.Is(err, gatehouse.ErrConflict) {
			return nil, gatehouse.Errorf(gatehouse.ECONFLICT, "username is taken")
		}
		return nil, err
	}
	return u, nil
}

// validateNew checks the fields of in other than the password and returns the role to store.
func (s *Service) validateNew(in NewUser) (gatehouse.Role, error) {
	if err := ValidateUsername(in.Username); err != nil {
		return "", err
	}
	if err := checkPasswordSize(in.Password); err != nil {
		return "", err // before anything costly, whatever the order of the checks below
	}
	if err := ValidateName(in.Name); err != nil {
		return "", err
	}
	if err := ValidateEmail(in.Email); err != nil {
		return "", err
	}
	return validateRole(in.Role)
}

// Login checks a username and password and returns the user. Unknown usernames (and strings
// that cannot be usernames) are verified against the hasher's dummy hash, so they cost what a
// known user costs, and answer gatehouse.ErrInvalidCredentials like a wrong password does. A
// password over MaxPasswordBytes is a bad_request before any hashing. A disabled account
// answers a forbidden *gatehouse.Error, but only to the right password. Hasher errors
// (gatehouse.ErrBusy) and store errors are returned as they are.
//
// The password is verified in its prepared form, and, when it differs, in the NFKC form that
// hashes were made of before passwords were prepared (see loginForms): a password set then
// keeps working. When the stored hash was made with other hashing parameters, Login stores a
// fresh hash of the form that matched; failing to do so is logged, not returned.
func (s *Service) Login(ctx context.Context, username, password string) (*gatehouse.User, error) {
	if err := checkPasswordSize(password); err != nil {
		return nil, err
	}
	forms := loginForms(password)
	u, err := s.lookUp(ctx, username)
	if errors.Is(err, gatehouse.ErrNotFound) {
		return nil, s.failUnknown(ctx, forms)
	}
	if err != nil {
		return nil, err
	}
	matched, rehash, err := s.verify(ctx, u.PasswordHash, forms)
	if err != nil {
		return nil, err
	}
	if matched < 0 {
		return nil, gatehouse.ErrInvalidCredentials
	}
	if u.Disabled {
		return nil, gatehouse.Errorf(gatehouse.EFORBIDDEN, "this account is disabled")
	}
	if rehash {
		u = s.rehash(ctx, u, forms[matched])
	}
	return u, nil
}

// verify returns the index of the first of forms that matches the hash (-1 for none) and
// whether the hash was made with other parameters. Every form is tried until one matches, so
// a wrong password costs one verification per form, as for an unknown user.
func (s *Service) verify(ctx context.Context, hash string, forms []string) (matched int, rehash bool, err error) {
	for i, f := range forms {
		ok, rh, err := s.hasher.Verify(ctx, hash, f)
		if err != nil {
			return -1, false, err
		}
		if ok {
			return i, rh, nil
		}
	}
	return -1, false, nil
}

// lookUp finds the user, answering gatehouse.ErrNotFound for a string that cannot be a username.
func (s *Service) lookUp(ctx context.Context, username string) (*gatehouse.User, error) {
	if ValidateUsername(username) != nil {
		return nil, gatehouse.ErrNotFound
	}
	return s.users.UserByUsername(ctx, username)
}

// failUnknown spends on an unknown user what a wrong password of a known one costs (one
// verification per form), then answers as for a wrong password; a busy hasher answers busy, as
// it would for a known user.
func (s *Service) failUnknown(ctx context.Context, forms []string) error {
	if _, _, err := s.verify(ctx, s.hasher.DummyHash(), forms); err != nil {
		return err
	}
	return gatehouse.ErrInvalidCredentials
}

// rehash stores a hash of password with the hasher's current parameters and returns the
// updated user, or u unchanged if that fails.
func (s *Service) rehash(ctx context.Context, u *gatehouse.User, password string) *gatehouse.User {
	hash, err := s.hasher.Hash(ctx, password)
	if err != nil {
		slog.WarnContext(ctx, "account: rehash on login failed", "user_id", u.ID, "err", err)
		return u
	}
	// The store has no compare-and-swap, so check just before writing that the password was
	// not changed while we verified and hashed: writing then would bring the old one back.
	cur, err := s.users.UserByID(ctx, u.ID)
	if err != nil || cur.PasswordHash != u.PasswordHash {
		slog.WarnContext(ctx, "account: rehash on login skipped: the stored hash changed or could not be read",
			"user_id", u.ID, "err", err)
		return u
	}
	updated, err := s.users.UpdateUser(ctx, u.ID, gatehouse.UserUpdate{PasswordHash: &hash})
	if err != nil {
		slog.WarnContext(ctx, "account: rehash on login failed", "user_id", u.ID, "err", err)
		return u
	}
	return updated
}

// Bootstrap creates the first account when there is none: user BootstrapUsername ("admin")
// with role admin and the given password, which must satisfy the policy. If password is "", it
// generates a random one (crypto/rand, base64url, at least 32 characters and never shorter
// than the policy's minimum) and returns it in generated, for the caller to show once. When
// users exist (or another instance bootstraps at the same moment) it does nothing and
// returns created == false.
func (s *Service) Bootstrap(ctx context.Context, password string) (created bool, generated string, err error) {
	n, err := s.users.CountUsers(ctx)
	if err != nil || n > 0 {
		return false, "", err
	}
	if password == "" {
		if generated, err = s.generatePassword(); err != nil {
			return false, "", fmt.Errorf("account: bootstrap admin: %w", err)
		}
		password = generated
	}
	_, err = s.Create(ctx, NewUser{Username: BootstrapUsername, Password: password, Role: gatehouse.RoleAdmin})
	if gatehouse.ErrorCode(err) == gatehouse.ECONFLICT {
		return false, "", nil
	}
	if err != nil {
		return false, "", fmt.Errorf("account: bootstrap admin: %w", err)
	}
	return true, generated, nil
}

// generatePassword returns a random base64url password of at least max(32, minLen) characters
// that the policy accepts (a random one fails it only by a freak of chance, such as holding the
// username: then another is drawn).
func (s *Service) generatePassword() (string, error) {
	size := max(generatedPasswordSize, (s.minLen*3+3)/4)
	b := make([]byte, size)
	var err error
	for range 10 {
		_, _ = rand.Read(b) // crypto/rand.Read never fails (Go 1.24+); it crashes instead.
		p := base64.RawURLEncoding.EncodeToString(b)
		if _, err = s.ValidatePassword(BootstrapUsername, p); err == nil {
			return p, nil
		}
	}
	return "", err
}
