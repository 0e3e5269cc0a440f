package postgres

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/gatehouse-auth/gatehouse"
)

var _ gatehouse.UserStore = (*UserStore)(nil)

// UserStore is a gatehouse.UserStore on the users table. Usernames keep the case they were
// created with; uniqueness and lookups go through username_norm, which holds
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
	ctx, cancel := s.db.bound(ctx)
	defer cancel()
	_, err := s.db.pool.Exec(ctx, `INSERT INTO users
		(id, username, username_norm, name, email, email_norm, email_verified, role, group_list, disabled, password_hash, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`,
		u.ID, u.Username, gatehouse.NormalizeUsername(u.Username), u.Name, u.Email, gatehouse.NormalizeEmail(u.Email),
		u.EmailVerified, string(u.Role), gatehouse.JoinGroups(u.Groups), u.Disabled, u.PasswordHash, nanos(u.CreatedAt))
	err = userErr("create user", err)
	if errors.Is(err, gatehouse.ErrEmailTaken) && s.usernameTaken(ctx, u) {
		// Both are taken: report the username, whichever index the database checked first.
		return fmt.Errorf("postgres: create user: %w", gatehouse.ErrConflict)
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
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == "23505" && pe.ConstraintName == "users_email_norm" {
		return fmt.Errorf("postgres: %s: %w", op, gatehouse.ErrEmailTaken)
	}
	return storeErr(op, err)
}

// UserByEmail returns the user whose address equals email without regard to case, or an
// error wrapping gatehouse.ErrNotFound (also for "").
func (s *UserStore) UserByEmail(ctx context.Context, email string) (*gatehouse.User, error) {
	if email == "" {
		return nil, fmt.Errorf("postgres: user by email: %w", gatehouse.ErrNotFound)
	}
	ctx, cancel := s.db.bound(ctx)
	defer cancel()
	row := s.db.pool.QueryRow(ctx, `SELECT `+userColumns+` FROM users WHERE email_norm = $1`,
		gatehouse.NormalizeEmail(email))
	return userFromRow(row, "user by email")
}

// UserByID returns the user with that id, or an error wrapping gatehouse.ErrNotFound.
func (s *UserStore) UserByID(ctx context.Context, id string) (*gatehouse.User, error) {
	ctx, cancel := s.db.bound(ctx)
	defer cancel()
	row := s.db.pool.QueryRow(ctx, `SELECT `+userColumns+` FROM users WHERE id = $1`, id)
	return userFromRow(row, "user by id")
}

// UserByUsername returns the user whose username equals username without regard to case, or
// an error wrapping gatehouse.ErrNotFound.
func (s *UserStore) UserByUsername(ctx context.Context, username string) (*gatehouse.User, error) {
	ctx, cancel := s.db.bound(ctx)
	defer cancel()
	row := s.db.pool.QueryRow(ctx, `SELECT `+userColumns+` FROM users WHERE username_norm = $1`,
		gatehouse.NormalizeUsername(username))
	return userFromRow(row, "user by username")
}

// ListUsers returns up to limit users ordered by id (bytewise), starting after the id after
// ("" for the first page). A limit of zero or less returns no users.
func (s *UserStore) ListUsers(ctx context.Context, after string, limit int) ([]*gatehouse.User, error) {
	return s.SearchUsers(ctx, gatehouse.UserQuery{After: after, Limit: limit})
}

// SearchUsers returns up to q.Limit users after q.After, ordered by id (bytewise), whose
// username, name or e-mail contains q.Search without regard to case.
func (s *UserStore) SearchUsers(ctx context.Context, q gatehouse.UserQuery) ([]*gatehouse.User, error) {
	users := []*gatehouse.User{}
	if q.Limit <= 0 {
		return users, nil
	}
	ctx, cancel := s.db.bound(ctx)
	defer cancel()
	rows, err := s.db.pool.Query(ctx, `SELECT `+userColumns+` FROM users
		WHERE id > $1 AND ($3 = '' OR strpos(lower(username), $3) > 0 OR strpos(lower(name), $3) > 0 OR strpos(lower(email), $3) > 0)
		ORDER BY id LIMIT $2`, q.After, q.Limit, strings.ToLower(q.Search))
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

// UpdateUser applies the non-nil fields of upd in one UPDATE statement and returns the user as
// it is afterwards. It returns an error wrapping gatehouse.ErrNotFound for an unknown id and a
// bad_request *gatehouse.Error for an unknown role.
func (s *UserStore) UpdateUser(ctx context.Context, id string, upd gatehouse.UserUpdate) (*gatehouse.User, error) {
	var sets []string
	args := []any{id}
	set := func(column string, v any) {
		args = append(args, v)
		sets = append(sets, column+" = $"+strconv.Itoa(len(args)))
	}
	if upd.Role != nil {
		if !upd.Role.Valid() {
			return nil, userRoleError(*upd.Role)
		}
		set("role", string(*upd.Role))
	}
	if upd.Groups != nil {
		if err := gatehouse.CheckGroups(*upd.Groups); err != nil {
			return nil, err
		}
		set("group_list", gatehouse.JoinGroups(*upd.Groups))
	}
	if upd.Name != nil {
		set("name", *upd.Name)
	}
	if upd.Email != nil {
		set("email", *upd.Email)
		set("email_norm", gatehouse.NormalizeEmail(*upd.Email))
	}
	if upd.EmailVerified != nil {
		set("email_verified", *upd.EmailVerified)
	}
	if upd.Disabled != nil {
		set("disabled", *upd.Disabled)
	}
	if upd.PasswordHash != nil {
		set("password_hash", *upd.PasswordHash)
	}
	if len(sets) == 0 {
		return s.UserByID(ctx, id)
	}
	ctx, cancel := s.db.bound(ctx)
	defer cancel()
	// The column names above are constants, never input.
	row := s.db.pool.QueryRow(ctx, `UPDATE users SET `+strings.Join(sets, ", ")+
		` WHERE id = $1 RETURNING `+userColumns, args...)
	u, err := scanUser(row)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("postgres: update user: %w", gatehouse.ErrNotFound)
	}
	if err != nil {
		return nil, userErr("update user", err)
	}
	return u, nil
}

// DeleteUser removes the user, or returns an error wrapping gatehouse.ErrNotFound. It does not
// touch the user's sessions or tokens: their stores do that.
func (s *UserStore) DeleteUser(ctx context.Context, id string) error {
	ctx, cancel := s.db.bound(ctx)
	defer cancel()
	tag, err := s.db.pool.Exec(ctx, `DELETE FROM users WHERE id = $1`, id)
	if err != nil {
		return storeErr("delete user", err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("postgres: delete user: %w", gatehouse.ErrNotFound)
	}
	return nil
}

// CountUsers returns the number of users.
func (s *UserStore) CountUsers(ctx context.Context) (int, error) {
	ctx, cancel := s.db.bound(ctx)
	defer cancel()
	var n int
	if err := s.db.pool.QueryRow(ctx, `SELECT count(*) FROM users`).Scan(&n); err != nil {
		return 0, storeErr("count users", err)
	}
	return n, nil
}

func userFromRow(row pgx.Row, op string) (*gatehouse.User, error) {
	u, err := scanUser(row)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("postgres: %s: %w", op, gatehouse.ErrNotFound)
	}
	if err != nil {
		return nil, storeErr(op, err)
	}
	return u, nil
}

func scanUser(row pgx.Row) (*gatehouse.User, error) {
	var u gatehouse.User
	var role, groups string
	var created int64
	if err := row.Scan(&u.ID, &u.Username, &u.Name, &u.Email, &u.EmailVerified, &role, &groups, &u.Disabled, &u.PasswordHash, &created); err != nil {
		return nil, err
	}
	u.Role, u.Groups, u.CreatedAt = gatehouse.Role(role), gatehouse.SplitGroups(groups), fromNanos(created)
	return &u, nil
}

func userRoleError(r gatehouse.Role) error {
	return gatehouse.Errorf(gatehouse.EBADREQUEST, "role: %q is not a known role", string(r))
}
