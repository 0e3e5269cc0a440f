package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/gatehouse-auth/gatehouse"
)

var _ gatehouse.UserStore = (*UserStore)(nil)

// UserStore is a gatehouse.UserStore on the users table. Usernames keep the case they were
// created with; uniqueness and lookups go through the username_norm column, which holds
// gatehouse.NormalizeUsername of the username.
type UserStore struct {
	db *DB
}

// NewUserStore returns a UserStore on db.
func NewUserStore(db *DB) *UserStore { return &UserStore{db: db} }

const userColumns = `id, username, name, email, email_verified, role, group_list, disabled, password_hash, created_at`

// CreateUser stores u, whose ID and CreatedAt the caller has set. It returns an error wrapping
// gatehouse.ErrConflict when the username (in any case) or the id is taken,
// gatehouse.ErrEmailTaken when the address (in any case) is, a bad_request *gatehouse.Error
// for an unknown role or a group list that is not normalised, and gatehouse.ErrUnavailable if
// the database fails.
func (s *UserStore) CreateUser(ctx context.Context, u *gatehouse.User) error {
	if !u.Role.Valid() {
		return userRoleError(u.Role)
	}
	if err := gatehouse.CheckGroups(u.Groups); err != nil {
		return err
	}
	_, err := s.db.db.ExecContext(ctx, `INSERT INTO users
		(id, username, username_norm, name, email, email_norm, email_verified, role, group_list, disabled, password_hash, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		u.ID, u.Username, gatehouse.NormalizeUsername(u.Username), u.Name, u.Email, gatehouse.NormalizeEmail(u.Email),
		u.EmailVerified, string(u.Role), gatehouse.JoinGroups(u.Groups), u.Disabled, u.PasswordHash, nanos(u.CreatedAt))
	err = userErr("create user", err)
	if errors.Is(err, gatehouse.ErrEmailTaken) && s.usernameTaken(ctx, u) {
		// Both are taken: report the username, whichever index the database checked first.
		return fmt.Errorf("sqlite: create user: %w", gatehouse.ErrConflict)
	}
	return err
}

// usernameTaken reports whether another user has u's username or id.
func (s *UserStore) usernameTaken(ctx context.Context, u *gatehouse.User) bool {
	if _, err := s.UserByUsername(ctx, u.Username); err == nil {
		return true
	}
	_, err := s.UserByID(ctx, u.ID)
	return err == nil
}

// userErr is storeErr that tells a taken e-mail address from a taken username or id.
func userErr(op string, err error) error {
	if err != nil && strings.Contains(err.Error(), "email_norm") {
		return fmt.Errorf("sqlite: %s: %w", op, gatehouse.ErrEmailTaken)
	}
	return storeErr(op, err)
}

// UserByEmail returns the user whose address equals email without regard to case, or an
// error wrapping gatehouse.ErrNotFound (also for "").
func (s *UserStore) UserByEmail(ctx context.Context, email string) (*gatehouse.User, error) {
	if email == "" {
		return nil, fmt.Errorf("sqlite: user by email: %w", gatehouse.ErrNotFound)
	}
	row := s.db.db.QueryRowContext(ctx, `SELECT `+userColumns+` FROM users WHERE email_norm = ?`,
		gatehouse.NormalizeEmail(email))
	return userFromRow(row, "user by email")
}

// UserByID returns the user with that id, or an error wrapping gatehouse.ErrNotFound.
func (s *UserStore) UserByID(ctx context.Context, id string) (*gatehouse.User, error) {
	row := s.db.db.QueryRowContext(ctx, `SELECT `+userColumns+` FROM users WHERE id = ?`, id)
	return userFromRow(row, "user by id")
}

// UserByUsername returns the user whose username equals username without regard to case, or
// an error wrapping gatehouse.ErrNotFound.
func (s *UserStore) UserByUsername(ctx context.Context, username string) (*gatehouse.User, error) {
	row := s.db.db.QueryRowContext(ctx, `SELECT `+userColumns+` FROM users WHERE username_norm = ?`,
		gatehouse.NormalizeUsername(username))
	return userFromRow(row, "user by username")
}

// ListUsers returns up to limit users ordered by id, starting after the id after ("" for the
// first page). A limit of zero or less returns no users.
func (s *UserStore) ListUsers(ctx context.Context, after string, limit int) ([]*gatehouse.User, error) {
	return s.SearchUsers(ctx, gatehouse.UserQuery{After: after, Limit: limit})
}

// SearchUsers returns up to q.Limit users after q.After, ordered by id, whose username, name
// or e-mail contains q.Search without regard to case (SQLite folds the case of ASCII letters
// only).
func (s *UserStore) SearchUsers(ctx context.Context, q gatehouse.UserQuery) ([]*gatehouse.User, error) {
	users := []*gatehouse.User{}
	if q.Limit <= 0 {
		return users, nil // SQLite reads a negative LIMIT as "no limit"
	}
	needle := strings.ToLower(q.Search)
	rows, err := s.db.db.QueryContext(ctx, `SELECT `+userColumns+` FROM users
		WHERE id > ? AND (? = '' OR instr(lower(username), ?) > 0 OR instr(lower(name), ?) > 0 OR instr(lower(email), ?) > 0)
		ORDER BY id LIMIT ?`, q.After, needle, needle, needle, needle, q.Limit)
	if err != nil {
		return nil, storeErr("list users", err)
	}
	defer rows.Close()
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, storeErr("list users", err)
		}
		users = append(users, u)
	}
	if err := rows.Err(); err != nil {
		return nil, storeErr("list users", err)
	}
	return users, nil
}

// UpdateUser applies the non-nil fields of upd in one UPDATE statement (atomic on its own)
// and returns the user as it is afterwards. It returns an error wrapping gatehouse.ErrNotFound
// for an unknown id and a bad_request *gatehouse.Error for an unknown role.
func (s *UserStore) UpdateUser(ctx context.Context, id string, upd gatehouse.UserUpdate) (*gatehouse.User, error) {
	sets, args, err := updateSets(upd)
	if err != nil {
		return nil, err
	}
	if len(sets) == 0 {
		return s.UserByID(ctx, id)
	}
	// The column names are constants, never input.
	row := s.db.db.QueryRowContext(ctx, `UPDATE users SET `+strings.Join(sets, ", ")+
		` WHERE id = ? RETURNING `+userColumns, append(args, id)...)
	u, err := scanUser(row)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("sqlite: update user: %w", gatehouse.ErrNotFound)
	}
	if err != nil {
		return nil, userErr("update user", err)
	}
	return u, nil
}

// updateSets returns the SET clauses and arguments of upd, checking the role and groups.
func updateSets(upd gatehouse.UserUpdate) (sets []string, args []any, err error) {
	add := func(clause string, v any) { sets, args = append(sets, clause), append(args, v) }
	if upd.Role != nil {
		if !upd.Role.Valid() {
			return nil, nil, userRoleError(*upd.Role)
		}
		add("role = ?", string(*upd.Role))
	}
	if upd.Groups != nil {
		if err := gatehouse.CheckGroups(*upd.Groups); err != nil {
			return nil, nil, err
		}
		add("group_list = ?", gatehouse.JoinGroups(*upd.Groups))
	}
	if upd.Name != nil {
		add("name = ?", *upd.Name)
	}
	if upd.Email != nil {
		add("email = ?", *upd.Email)
		add("email_norm = ?", gatehouse.NormalizeEmail(*upd.Email))
	}
	if upd.EmailVerified != nil {
		add("email_verified = ?", *upd.EmailVerified)
	}
	if upd.Disabled != nil {
		add("disabled = ?", *upd.Disabled)
	}
	if upd.PasswordHash != nil {
		add("password_hash = ?", *upd.PasswordHash)
	}
	return sets, args, nil
}

// DeleteUser removes the user, or returns an error wrapping gatehouse.ErrNotFound. It does not
// touch the user's sessions or tokens: their stores do that.
func (s *UserStore) DeleteUser(ctx context.Context, id string) error {
	res, err := s.db.db.ExecContext(ctx, `DELETE FROM users WHERE id = ?`, id)
	if err != nil {
		return storeErr("delete user", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return storeErr("delete user", err)
	}
	if n == 0 {
		return fmt.Errorf("sqlite: delete user: %w", gatehouse.ErrNotFound)
	}
	return nil
}

// CountUsers returns the number of users.
func (s *UserStore) CountUsers(ctx context.Context) (int, error) {
	var n int
	if err := s.db.db.QueryRowContext(ctx, `SELECT count(*) FROM users`).Scan(&n); err != nil {
		return 0, storeErr("count users", err)
	}
	return n, nil
}

func userFromRow(row *sql.Row, op string) (*gatehouse.User, error) {
	u, err := scanUser(row)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("sqlite: %s: %w", op, gatehouse.ErrNotFound)
	}
	if err != nil {
		return nil, storeErr(op, err)
	}
	return u, nil
}

func scanUser(sc interface{ Scan(...any) error }) (*gatehouse.User, error) {
	var u gatehouse.User
	var role, groups string
	var created int64
	if err := sc.Scan(&u.ID, &u.Username, &u.Name, &u.Email, &u.EmailVerified, &role, &groups, &u.Disabled, &u.PasswordHash, &created); err != nil {
		return nil, err
	}
	u.Role, u.Groups, u.CreatedAt = gatehouse.Role(role), gatehouse.SplitGroups(groups), fromNanos(created)
	return &u, nil
}

func userRoleError(r gatehouse.Role) error {
	return gatehouse.Errorf(gatehouse.EBADREQUEST, "role: %q is not a known role", string(r))
}
