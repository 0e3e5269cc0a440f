package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gatehouse-auth/gatehouse"
)

var (
	_ gatehouse.SessionStore = (*SessionStore)(nil)
	_ gatehouse.Expirer      = (*SessionStore)(nil)
)

// SessionStore is a gatehouse.SessionStore on the sessions table. The hot queries (find and
// touch) are prepared once, on first use.
type SessionStore struct {
	db    *DB
	find  *preparedQuery
	touch *preparedQuery
}

// NewSessionStore returns a SessionStore on db.
func NewSessionStore(db *DB) *SessionStore {
	return &SessionStore{
		db:    db,
		find:  &preparedQuery{db: db.db, query: `SELECT ` + sessionColumns + ` FROM sessions WHERE hash = ?`},
		touch: &preparedQuery{db: db.db, query: `UPDATE sessions SET last_seen_at = ? WHERE hash = ?`},
	}
}

const sessionColumns = `hash, handle, user_id, username, name, email, role, created_at, last_seen_at, expires_at, ip, user_agent, groups, amr`

// CreateSession stores s. It returns gatehouse.ErrConflict if its hash or handle exists, and
// gatehouse.ErrUnavailable if the database fails.
func (st *SessionStore) CreateSession(ctx context.Context, s *gatehouse.Session) error {
	_, err := st.db.db.ExecContext(ctx, `INSERT INTO sessions (`+sessionColumns+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		s.Hash[:], s.Handle, s.User.UserID, s.User.Username, s.User.Name, s.User.Email,
		string(s.User.Role), nanos(s.CreatedAt), nanos(s.LastSeenAt), nanos(s.ExpiresAt), s.IP, s.UserAgent,
		gatehouse.JoinGroups(s.User.Groups), int64(s.AMR))
	return storeErr("create session", err)
}

// FindSession returns the session whose secret hashes to h; found=false if none.
func (st *SessionStore) FindSession(ctx context.Context, h gatehouse.Hash) (*gatehouse.Session, bool, error) {
	stmt, err := st.find.get(ctx)
	if err != nil {
		return nil, false, storeErr("find session", err)
	}
	return sessionFromRow(stmt.QueryRowContext(ctx, h[:]), "find session")
}

// TouchSession sets LastSeenAt of the session h with an UPDATE (never an insert), so a touch
// racing a delete cannot bring the session back: found=false if it is gone.
func (st *SessionStore) TouchSession(ctx context.Context, h gatehouse.Hash, lastSeen time.Time) (bool, error) {
	stmt, err := st.touch.get(ctx)
	if err != nil {
		return false, storeErr("touch session", err)
	}
	res, err := stmt.ExecContext(ctx, nanos(lastSeen), h[:])
	return sessionRowFound(res, err, "touch session")
}

// DeleteSession removes the session h; found=false if there is none.
func (st *SessionStore) DeleteSession(ctx context.Context, h gatehouse.Hash) (bool, error) {
	res, err := st.db.db.ExecContext(ctx, `DELETE FROM sessions WHERE hash = ?`, h[:])
	return sessionRowFound(res, err, "delete session")
}

// DeleteSessionByHandle removes the session with that handle if it belongs to userID and returns
// its hash; found=false if there is none or it belongs to someone else.
func (st *SessionStore) DeleteSessionByHandle(ctx context.Context, userID, handle string) (gatehouse.Hash, bool, error) {
	var b []byte
	err := st.db.db.QueryRowContext(ctx, `DELETE FROM sessions WHERE handle = ? AND user_id = ? RETURNING hash`,
		handle, userID).Scan(&b)
	if errors.Is(err, sql.ErrNoRows) {
		return gatehouse.Hash{}, false, nil
	}
	if err != nil {
		return gatehouse.Hash{}, false, storeErr("delete session by handle", err)
	}
	h, err := sessionHashFrom(b)
	return h, err == nil, err
}

// SessionByHandle returns the session with that handle, whoever owns it; found=false if none.
func (st *SessionStore) SessionByHandle(ctx context.Context, handle string) (*gatehouse.Session, bool, error) {
	row := st.db.db.QueryRowContext(ctx, `SELECT `+sessionColumns+` FROM sessions WHERE handle = ?`, handle)
	return sessionFromRow(row, "session by handle")
}

// ListSessions returns the user's sessions, oldest first (ties broken by handle), expired ones
// included.
func (st *SessionStore) ListSessions(ctx context.Context, userID string) ([]*gatehouse.Session, error) {
	rows, err := st.db.db.QueryContext(ctx, `SELECT `+sessionColumns+` FROM sessions
		WHERE user_id = ? ORDER BY created_at, handle`, userID)
	if err != nil {
		return nil, storeErr("list sessions", err)
	}
	defer rows.Close()
	var out []*gatehouse.Session
	for rows.Next() {
		s, err := scanSession(rows)
		if err != nil {
			return nil, storeErr("list sessions", err)
		}
		out = append(out, s)
	}
	return out, storeErr("list sessions", rows.Err())
}

// DeleteUserSessions removes every session of the user in one statement and returns their hashes.
func (st *SessionStore) DeleteUserSessions(ctx context.Context, userID string) ([]gatehouse.Hash, error) {
	rows, err := st.db.db.QueryContext(ctx, `DELETE FROM sessions WHERE user_id = ? RETURNING hash`, userID)
	if err != nil {
		return nil, storeErr("delete user sessions", err)
	}
	defer rows.Close()
	var out []gatehouse.Hash
	for rows.Next() {
		var b []byte
		if err := rows.Scan(&b); err != nil {
			return nil, storeErr("delete user sessions", err)
		}
		h, err := sessionHashFrom(b)
		if err != nil {
			return nil, err
		}
		out = append(out, h)
	}
	return out, storeErr("delete user sessions", rows.Err())
}

// DeleteExpired removes the sessions whose ExpiresAt is not after now and returns how many.
func (st *SessionStore) DeleteExpired(ctx context.Context, now time.Time) (int, error) {
	res, err := st.db.db.ExecContext(ctx, `DELETE FROM sessions WHERE expires_at <= ?`, nanos(now))
	if err != nil {
		return 0, storeErr("delete expired sessions", err)
	}
	n, err := res.RowsAffected()
	return int(n), storeErr("delete expired sessions", err)
}

// scanSession reads one row of sessionColumns.
func scanSession(sc interface{ Scan(...any) error }) (*gatehouse.Session, error) {
	var (
		s                   gatehouse.Session
		b                   []byte
		role, groups        string
		created, seen, exps int64
		amr                 int64
	)
	err := sc.Scan(&b, &s.Handle, &s.User.UserID, &s.User.Username, &s.User.Name, &s.User.Email,
		&role, &created, &seen, &exps, &s.IP, &s.UserAgent, &groups, &amr)
	if err != nil {
		return nil, err
	}
	if s.Hash, err = sessionHashFrom(b); err != nil {
		return nil, err
	}
	s.User.Role, s.AMR = gatehouse.Role(role), gatehouse.AuthMethods(amr)
	if groups != "" {
		s.User.Groups = gatehouse.SplitGroups(groups)
	}
	s.CreatedAt, s.LastSeenAt, s.ExpiresAt = fromNanos(created), fromNanos(seen), fromNanos(exps)
	return &s, nil
}

// sessionFromRow scans a single-row query: found=false for no row.
func sessionFromRow(row *sql.Row, op string) (*gatehouse.Session, bool, error) {
	s, err := scanSession(row)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, storeErr(op, err)
	}
	return s, true, nil
}

// sessionHashFrom converts a hash column; a value of the wrong length means a corrupt row.
func sessionHashFrom(b []byte) (gatehouse.Hash, error) {
	var h gatehouse.Hash
	if len(b) != len(h) {
		return h, gatehouse.Unavailable("sqlite: read hash", fmt.Errorf("corrupt hash of %d bytes", len(b)))
	}
	copy(h[:], b)
	return h, nil
}

// sessionRowFound turns the result of a single-row write into found.
func sessionRowFound(res sql.Result, err error, op string) (bool, error) {
	if err != nil {
		return false, storeErr(op, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, storeErr(op, err)
	}
	return n > 0, nil
}

// preparedQuery is a statement prepared on first use and kept for the life of the database.
// A failed preparation is retried by the next call.
type preparedQuery struct {
	db    *sql.DB
	query string
	mu    sync.Mutex
	stmt  atomic.Pointer[sql.Stmt]
}

// get returns the prepared statement, preparing it if needed.
func (q *preparedQuery) get(ctx context.Context) (*sql.Stmt, error) {
	if s := q.stmt.Load(); s != nil {
		return s, nil
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if s := q.stmt.Load(); s != nil {
		return s, nil
	}
	s, err := q.db.PrepareContext(ctx, q.query)
	if err != nil {
		return nil, err
	}
	q.stmt.Store(s)
	return s, nil
}

// CountSessions returns the number of stored sessions (gatehouse.SessionCounter).
func (st *SessionStore) CountSessions(ctx context.Context) (int, error) {
	var n int
	if err := st.db.db.QueryRowContext(ctx, `SELECT count(*) FROM sessions`).Scan(&n); err != nil {
		return 0, storeErr("count sessions", err)
	}
	return n, nil
}

var _ gatehouse.SessionCounter = (*SessionStore)(nil)
