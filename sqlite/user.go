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

const userColumns = `id, username, name, email, role, disabled, password_hash, created_at`

// CreateUser stores u, whose ID and CreatedAt the caller has set. It returns an error wrapping
// gatehouse.ErrConflict when the username (in any case) or the id is taken, a bad_request
// *gatehouse.Error for an unknown role, and gatehouse.ErrUnavailable if the database fails.
func (s *UserStore) CreateUser(ctx context.Context, u *gatehouse.User) error {
	if !u.Role.Valid() {
		return userRoleError(u.Role)
	}
	_, err := s.db.db.ExecContext(ctx, `INSERT INTO users
		(id, username, username_norm, name, email, role, disabled, password_hash, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		u.ID, u.Username, gatehouse.NormalizeUsername(u.Username), u.Name, u.Email, string(u.Role),
		u.Disabled, u.PasswordHash, nanos(u.CreatedAt))
	return storeErr("create user", err)
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
	users := []*gatehouse.User{}
	if limit <= 0 {
		return users, nil // SQLite reads a negative LIMIT as "no limit"
	}
	rows, err := s.db.db.QueryContext(ctx, `SELECT `+userColumns+` FROM users
		WHERE id > ? ORDER BY id LIMIT ?`, after, limit)
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
	var sets []string
	var args []any
	if upd.Role != nil {
		if !upd.Role.Valid() {
			return nil, userRoleError(*upd.Role)
		}
		sets, args = append(sets, "role = ?"), append(args, string(*upd.Role))
	}
	if upd.Disabled != nil {
		sets, args = append(sets, "disabled = ?"), append(args, *upd.Disabled)
	}
	if upd.PasswordHash != nil {
		sets, args = append(sets, "password_hash = ?"), append(args, *upd.PasswordHash)
	}
	if len(sets) == 0 {
		return s.UserByID(ctx, id)
	}
	// The column names above are constants, never input.
	row := s.db.db.QueryRowContext(ctx, `UPDATE users SET `+strings.Join(sets, ", ")+
		` WHERE id = ? RETURNING `+userColumns, append(args, id)...)
	return userFromRow(row, "update user")
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
	var role string
	var created int64
	if err := sc.Scan(&u.ID, &u.Username, &u.Name, &u.Email, &role, &u.Disabled, &u.PasswordHash, &created); err != nil {
		return nil, err
	}
	u.Role, u.CreatedAt = gatehouse.Role(role), fromNanos(created)
	return &u, nil
}

func userRoleError(r gatehouse.Role) error {
	return gatehouse.Errorf(gatehouse.EBADREQUEST, "role: %q is not a known role", string(r))
}
