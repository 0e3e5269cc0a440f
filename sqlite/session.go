package sqlite

import (
	"context"
	"crypto/subtle"
	"database/sql"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strings"
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
//
// A row is keyed by the first 8 bytes of the session's hash (sessionID) and holds the other 24
// (hash_rest), which every look-up by hash compares: the key only locates the row, a session is
// found only by its whole SHA-256. Two sessions whose hashes share their first 8 bytes cannot
// both be stored (the second gets gatehouse.ErrConflict); among a million sessions a new one
// meets that with a probability of about 5e-14. The handle is stored only when it is not
// gatehouse.SessionHandle of the hash, and the principal only when it is not the user's row in
// users at the time the session is created: then the username, name, e-mail, role and groups
// are read from users, and a session whose user is gone is not found. The role, groups and
// username cannot change while the session lives (such a change revokes the user's sessions
// first, see authn.UpdateUser), so a session reads what it was created with, except the name
// and e-mail, which it reads as they are now.
type SessionStore struct {
	db    *DB
	find  *preparedQuery
	touch *preparedQuery
}

// NewSessionStore returns a SessionStore on db.
func NewSessionStore(db *DB) *SessionStore {
	return &SessionStore{
		db:    db,
		find:  &preparedQuery{db: db.db, query: sessionSelect + ` WHERE s.id = ?`},
		touch: &preparedQuery{db: db.db, query: `UPDATE sessions SET last_seen_at = ? WHERE id = ? AND hash_rest = ?`},
	}
}

// sessionSelect reads the columns scanSession takes, the principal from users where the row has
// none. gone is 1 when the row relies on a users row that no longer exists.
const sessionSelect = `SELECT s.id, s.hash_rest, s.handle, s.user_id,
	coalesce(s.username, u.username, ''), coalesce(s.name, u.name, ''), coalesce(s.email, u.email, ''),
	coalesce(s.role, u.role, ''), coalesce(s.groups, u.group_list, ''),
	s.created_at, s.last_seen_at, s.expires_at, s.ip, s.user_agent, s.amr,
	s.username IS NULL AND u.id IS NULL
	FROM sessions s LEFT JOIN users u ON s.username IS NULL AND u.id = s.user_id`

// sessionInsert stores one session: ?1 to ?10 are the row's own columns, ?11 to ?15 the
// principal, stored as NULLs when users holds exactly that principal for the user ?3.
const sessionInsert = `INSERT INTO sessions (id, hash_rest, user_id, created_at, last_seen_at, expires_at, ip,
		user_agent, amr, handle, username, name, email, role, groups)
	SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10,
		iif(same, NULL, ?11), iif(same, NULL, ?12), iif(same, NULL, ?13), iif(same, NULL, ?14), iif(same, NULL, ?15)
	FROM (SELECT EXISTS (SELECT 1 FROM users WHERE id = ?3 AND username = ?11 AND name = ?12 AND email = ?13
		AND role = ?14 AND group_list = ?15) AS same)`

// sessionID is the key of the session h: its first 8 bytes, big-endian, as a signed integer.
func sessionID(h *gatehouse.Hash) int64 { return int64(binary.BigEndian.Uint64(h[:8])) }

// sessionArgs are the arguments of sessionInsert for s.
func sessionArgs(s *gatehouse.Session) []any {
	var handle any // NULL: derived from the hash
	if s.Handle != gatehouse.SessionHandle(s.Hash) {
		handle = s.Handle
	}
	return []any{sessionID(&s.Hash), s.Hash[8:], s.User.UserID, nanos(s.CreatedAt), nanos(s.LastSeenAt),
		nanos(s.ExpiresAt), s.IP, s.UserAgent, int64(s.AMR), handle,
		s.User.Username, s.User.Name, s.User.Email, string(s.User.Role), gatehouse.JoinGroups(s.User.Groups)}
}

// CreateSession stores s. It returns gatehouse.ErrConflict if its hash (or another with the
// same first 8 bytes) or its handle exists, and gatehouse.ErrUnavailable if the database fails.
func (st *SessionStore) CreateSession(ctx context.Context, s *gatehouse.Session) error {
	_, err := st.db.db.ExecContext(ctx, sessionInsert, sessionArgs(s)...)
	return storeErr("create session", err)
}

// CreateSessions stores every session of ss in one transaction, all or none (for filling a
// database in bulk, much faster than one CreateSession each). It returns
// gatehouse.ErrConflict if a hash or handle exists.
func (st *SessionStore) CreateSessions(ctx context.Context, ss []*gatehouse.Session) error {
	tx, err := st.db.db.BeginTx(ctx, nil)
	if err != nil {
		return storeErr("create sessions", err)
	}
	defer tx.Rollback()
	stmt, err := tx.PrepareContext(ctx, sessionInsert)
	if err != nil {
		return storeErr("create sessions", err)
	}
	defer stmt.Close()
	for _, s := range ss {
		if _, err := stmt.ExecContext(ctx, sessionArgs(s)...); err != nil {
			return storeErr("create sessions", err)
		}
	}
	return storeErr("create sessions", tx.Commit())
}

// FindSession returns the session whose secret hashes to h; found=false if none.
func (st *SessionStore) FindSession(ctx context.Context, h gatehouse.Hash) (*gatehouse.Session, bool, error) {
	stmt, err := st.find.get(ctx)
	if err != nil {
		return nil, false, storeErr("find session", err)
	}
	s, found, err := sessionFromRow(stmt.QueryRowContext(ctx, sessionID(&h)), "find session")
	if !found || subtle.ConstantTimeCompare(s.Hash[:], h[:]) != 1 {
		return nil, false, err // another session with the same first 8 bytes is not this one
	}
	return s, true, nil
}

// TouchSession sets LastSeenAt of the session h with an UPDATE (never an insert), so a touch
// racing a delete cannot bring the session back: found=false if it is gone.
func (st *SessionStore) TouchSession(ctx context.Context, h gatehouse.Hash, lastSeen time.Time) (bool, error) {
	stmt, err := st.touch.get(ctx)
	if err != nil {
		return false, storeErr("touch session", err)
	}
	res, err := stmt.ExecContext(ctx, nanos(lastSeen), sessionID(&h), h[8:])
	return sessionRowFound(res, err, "touch session")
}

// TouchSessions writes the last-seen times of ts in one transaction (gatehouse.
// SessionBatchToucher): one commit, and one write of each page, for the whole batch.
func (st *SessionStore) TouchSessions(ctx context.Context, ts []gatehouse.SessionTouch) error {
	if len(ts) == 0 {
		return nil
	}
	tx, err := st.db.db.BeginTx(ctx, nil)
	if err != nil {
		return storeErr("touch sessions", err)
	}
	defer tx.Rollback()
	stmt, err := st.touch.get(ctx)
	if err != nil {
		return storeErr("touch sessions", err)
	}
	txStmt := tx.StmtContext(ctx, stmt)
	defer txStmt.Close()
	for i := range ts {
		if _, err := txStmt.ExecContext(ctx, nanos(ts[i].LastSeen), sessionID(&ts[i].Hash), ts[i].Hash[8:]); err != nil {
			return storeErr("touch sessions", err)
		}
	}
	return storeErr("touch sessions", tx.Commit())
}

// DeleteSession removes the session h; found=false if there is none.
func (st *SessionStore) DeleteSession(ctx context.Context, h gatehouse.Hash) (bool, error) {
	res, err := st.db.db.ExecContext(ctx, `DELETE FROM sessions WHERE id = ? AND hash_rest = ?`, sessionID(&h), h[8:])
	return sessionRowFound(res, err, "delete session")
}

// byHandle is the condition on a session s with that handle: derived from the hash (the
// handle spells the hash's first 16 bytes), or stored.
const byHandle = `((s.id = ?1 AND s.handle IS NULL AND substr(s.hash_rest, 1, 8) = ?2) OR s.handle = ?3)`

// handleArgs are the arguments ?1 to ?3 of byHandle.
func handleArgs(handle string) []any {
	b, ok := gatehouse.IDBytes(handle)
	if !ok { // not the spelling of 16 bytes: it can only be a stored handle
		return []any{int64(0), []byte(nil), handle}
	}
	return []any{int64(binary.BigEndian.Uint64(b[:8])), b[8:], handle}
}

// DeleteSessionByHandle removes the session with that handle if it belongs to userID and returns
// its hash; found=false if there is none or it belongs to someone else.
func (st *SessionStore) DeleteSessionByHandle(ctx context.Context, userID, handle string) (gatehouse.Hash, bool, error) {
	var (
		id   int64
		rest []byte
	)
	err := st.db.db.QueryRowContext(ctx, `DELETE FROM sessions WHERE `+strings.ReplaceAll(byHandle, "s.", "")+` AND user_id = ?4
		RETURNING id, hash_rest`, append(handleArgs(handle), userID)...).Scan(&id, &rest)
	if errors.Is(err, sql.ErrNoRows) {
		return gatehouse.Hash{}, false, nil
	}
	if err != nil {
		return gatehouse.Hash{}, false, storeErr("delete session by handle", err)
	}
	h, err := sessionHashFrom(id, rest)
	return h, err == nil, err
}

// SessionByHandle returns the session with that handle, whoever owns it; found=false if none.
func (st *SessionStore) SessionByHandle(ctx context.Context, handle string) (*gatehouse.Session, bool, error) {
	row := st.db.db.QueryRowContext(ctx, sessionSelect+` WHERE `+byHandle, handleArgs(handle)...)
	return sessionFromRow(row, "session by handle")
}

// ListSessions returns the user's sessions, oldest first (ties broken by handle), expired ones
// included.
func (st *SessionStore) ListSessions(ctx context.Context, userID string) ([]*gatehouse.Session, error) {
	rows, err := st.db.db.QueryContext(ctx, sessionSelect+` WHERE s.user_id = ?`, userID)
	if err != nil {
		return nil, storeErr("list sessions", err)
	}
	defer rows.Close()
	var out []*gatehouse.Session
	for rows.Next() {
		s, gone, err := scanSession(rows)
		if err != nil {
			return nil, storeErr("list sessions", err)
		}
		if !gone {
			out = append(out, s)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, storeErr("list sessions", err)
	}
	slices.SortFunc(out, func(a, b *gatehouse.Session) int {
		if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(a.Handle, b.Handle)
	})
	return out, nil
}

// DeleteUserSessions removes every session of the user in one statement and returns their hashes.
func (st *SessionStore) DeleteUserSessions(ctx context.Context, userID string) ([]gatehouse.Hash, error) {
	rows, err := st.db.db.QueryContext(ctx, `DELETE FROM sessions WHERE user_id = ? RETURNING id, hash_rest`, userID)
	if err != nil {
		return nil, storeErr("delete user sessions", err)
	}
	defer rows.Close()
	var out []gatehouse.Hash
	for rows.Next() {
		var (
			id   int64
			rest []byte
		)
		if err := rows.Scan(&id, &rest); err != nil {
			return nil, storeErr("delete user sessions", err)
		}
		h, err := sessionHashFrom(id, rest)
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

// scanSession reads one row of sessionSelect. gone reports a session whose principal was its
// user's row, which no longer exists: it is no one's and must not be used.
func scanSession(sc interface{ Scan(...any) error }) (s *gatehouse.Session, gone bool, err error) {
	var (
		id                  int64
		rest                []byte
		handle              sql.NullString
		role, groups        string
		created, seen, exps int64
		amr                 int64
	)
	s = new(gatehouse.Session)
	err = sc.Scan(&id, &rest, &handle, &s.User.UserID, &s.User.Username, &s.User.Name, &s.User.Email,
		&role, &groups, &created, &seen, &exps, &s.IP, &s.UserAgent, &amr, &gone)
	if err != nil {
		return nil, false, err
	}
	if s.Hash, err = sessionHashFrom(id, rest); err != nil {
		return nil, false, err
	}
	s.Handle = handle.String
	if !handle.Valid {
		s.Handle = gatehouse.SessionHandle(s.Hash)
	}
	s.User.Role, s.AMR = gatehouse.Role(role), gatehouse.AuthMethods(amr)
	if groups != "" {
		s.User.Groups = gatehouse.SplitGroups(groups)
	}
	s.CreatedAt, s.LastSeenAt, s.ExpiresAt = fromNanos(created), fromNanos(seen), fromNanos(exps)
	return s, gone, nil
}

// sessionFromRow scans a single-row query: found=false for no row, or for a session whose user
// is gone.
func sessionFromRow(row *sql.Row, op string) (*gatehouse.Session, bool, error) {
	s, gone, err := scanSession(row)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, storeErr(op, err)
	}
	return s, !gone, nil
}

// sessionHashFrom puts a session's hash together from its key and hash_rest; a hash_rest of
// the wrong length means a corrupt row.
func sessionHashFrom(id int64, rest []byte) (gatehouse.Hash, error) {
	var h gatehouse.Hash
	if len(rest) != len(h)-8 {
		return h, gatehouse.Unavailable("sqlite: read hash", fmt.Errorf("corrupt session hash of %d bytes", 8+len(rest)))
	}
	binary.BigEndian.PutUint64(h[:8], uint64(id))
	copy(h[8:], rest)
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
