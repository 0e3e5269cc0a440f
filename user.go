package gatehouse

import (
	"context"
	"slices"
	"strings"
	"time"
)

// Role is a user's role. An admin can do everything a user can.
type Role string

// The roles gatehouse knows, from least to most privileged.
const (
	RoleUser  Role = "user"
	RoleAdmin Role = "admin"
)

// Valid reports whether r is a known role.
func (r Role) Valid() bool { return r == RoleUser || r == RoleAdmin }

// Allows reports whether a holder of r may do what required demands.
func (r Role) Allows(required Role) bool {
	return r.rank() >= required.rank() && required.rank() > 0
}

func (r Role) rank() int {
	switch r {
	case RoleUser:
		return 1
	case RoleAdmin:
		return 2
	}
	return 0
}

// User is an account. PasswordHash is the encoded argon2id hash; it is never serialised.
// Email is unique without regard to case when it is set; EmailVerified says that the user
// proved it is theirs (by a link sent to it), and any change of Email clears it. Groups is a
// normalised list (see NormalizeGroups), never nil when read from a store.
type User struct {
	ID            string    `json:"id"`
	Username      string    `json:"username"`
	Name          string    `json:"name"`
	Email         string    `json:"email"`
	EmailVerified bool      `json:"email_verified"`
	Role          Role      `json:"role"`
	Groups        []string  `json:"groups"`
	Disabled      bool      `json:"disabled"`
	CreatedAt     time.Time `json:"created_at"`
	PasswordHash  string    `json:"-"`
}

// Principal is who sent a request: the identity a session or an access token carries. It is
// a snapshot taken at login; every change that could make it stale (role change, disable,
// delete, password change) also moves the user's "not before" time, which kills the session
// or token that carries the snapshot.
//
// Groups is the user's normalised group list at login (nil for none); a change of groups
// also moves the not-before time, so the snapshot stays true. It is not part of the JSON
// form of a Principal (the answers that show a user's groups show the User).
type Principal struct {
	UserID   string   `json:"id"`
	Username string   `json:"username"`
	Name     string   `json:"name"`
	Email    string   `json:"email"`
	Role     Role     `json:"role"`
	Groups   []string `json:"-"`
}

// Principal returns the identity snapshot of u. Its Groups is a copy of u.Groups (nil when
// there are none), so that a later change of u does not change the snapshot.
func (u *User) Principal() Principal {
	var groups []string
	if len(u.Groups) > 0 {
		groups = slices.Clone(u.Groups)
	}
	return Principal{UserID: u.ID, Username: u.Username, Name: u.Name, Email: u.Email, Role: u.Role, Groups: groups}
}

// NormalizeUsername returns the canonical (lower-case) form of a username used for uniqueness.
func NormalizeUsername(s string) string { return strings.ToLower(s) }

// NormalizeEmail returns the form of an address used for uniqueness and look-ups: lower case.
// (Strictly only the domain is case-insensitive, but no mail system in use treats two
// spellings of a local part as two people, and two accounts differing only by case would let
// one take the other's reset mail.)
func NormalizeEmail(s string) string { return strings.ToLower(s) }

// ErrEmailTaken means another account has the address (in any case).
var ErrEmailTaken = &Error{ECONFLICT, "email: the address belongs to another account"}

// UserUpdate lists the fields an update changes; nil fields stay as they are. Groups must be
// normalised (NormalizeGroups); stores reject a list that is not. Setting Email does not change
// EmailVerified by itself: callers set both (a new address is unverified).
type UserUpdate struct {
	Name          *string
	Email         *string
	EmailVerified *bool
	Role          *Role
	Groups        *[]string
	Disabled      *bool
	PasswordHash  *string
}

// UserQuery selects users for SearchUsers.
type UserQuery struct {
	// Search, if not empty, keeps the users whose username, name or e-mail address contains
	// it, without regard to case.
	Search string
	// After is the id to start after ("" for the first page); Limit the most users returned
	// (zero or less returns none).
	After string
	Limit int
}

// UserStore keeps user accounts. Usernames are unique without regard to case.
type UserStore interface {
	// CreateUser stores u, whose ID and CreatedAt the caller has set. It returns ErrConflict
	// when the username is taken, ErrEmailTaken when the e-mail address is, and an error
	// matching ErrGroupName or ErrTooManyGroups when u.Groups is not a valid list.
	CreateUser(ctx context.Context, u *User) error
	// UserByID returns ErrNotFound for an unknown id.
	UserByID(ctx context.Context, id string) (*User, error)
	// UserByUsername looks the username up without regard to case; ErrNotFound if unknown.
	UserByUsername(ctx context.Context, username string) (*User, error)
	// ListUsers returns up to limit users ordered by id, starting after the id after ("" for
	// the first page).
	ListUsers(ctx context.Context, after string, limit int) ([]*User, error)
	// UserByEmail looks the address up without regard to case; ErrNotFound if no user has
	// it (and for "").
	UserByEmail(ctx context.Context, email string) (*User, error)
	// SearchUsers returns the users q selects, ordered by id.
	SearchUsers(ctx context.Context, q UserQuery) ([]*User, error)
	// UpdateUser applies upd and returns the updated user; ErrNotFound if unknown,
	// ErrEmailTaken if the new address belongs to another user.
	UpdateUser(ctx context.Context, id string, upd UserUpdate) (*User, error)
	// DeleteUser removes the user; ErrNotFound if unknown.
	DeleteUser(ctx context.Context, id string) error
	// CountUsers returns the number of users.
	CountUsers(ctx context.Context) (int, error)
}

// PasswordHasher hashes and verifies passwords.
type PasswordHasher interface {
	// Hash returns an encoded, salted hash of password. It returns ErrBusy when too many
	// hashes are in flight for longer than the configured wait.
	Hash(ctx context.Context, password string) (string, error)
	// Verify reports whether password matches encoded, and whether encoded was made with
	// other parameters than the current ones (then the caller should store a fresh hash).
	Verify(ctx context.Context, encoded, password string) (ok, rehash bool, err error)
}
