package postgres

import (
	"context"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/gatehouse-auth/gatehouse"
)

var (
	_ gatehouse.AuditStore = (*AuditStore)(nil)
	_ gatehouse.Expirer    = (*AuditStore)(nil)
)

// AuditStore is a gatehouse.AuditStore on the audit_events table (migration 002), shared by
// every instance on the database. Each call is bounded by Options.Timeout; a database that
// does not answer gives gatehouse.ErrUnavailable.
type AuditStore struct {
	db        *DB
	retention time.Duration
}

// NewAuditStore returns an AuditStore on db that keeps events for retention (<= 0 means
// gatehouse.DefaultAuditRetention); DeleteExpired drops older ones.
func NewAuditStore(db *DB, retention time.Duration) *AuditStore {
	if retention <= 0 {
		retention = gatehouse.DefaultAuditRetention
	}
	return &AuditStore{db: db, retention: retention}
}

// AppendAudit stores e.
func (st *AuditStore) AppendAudit(ctx context.Context, e *gatehouse.AuditEvent) error {
	ctx, cancel := st.db.bound(ctx)
	defer cancel()
	_, err := st.db.pool.Exec(ctx, `INSERT INTO audit_events
		(id, time, action, outcome, user_id, actor_id, ip, user_agent, detail) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
		e.ID, nanos(e.Time), e.Action, e.Outcome, e.UserID, e.ActorID, e.IP, e.UserAgent, e.Detail)
	return storeErr("append audit event", err)
}

// ListAudit returns the events q selects, newest first.
func (st *AuditStore) ListAudit(ctx context.Context, q gatehouse.AuditQuery) ([]*gatehouse.AuditEvent, error) {
	var where []string
	var args []any
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	if q.After != "" {
		where = append(where, "id < "+arg(q.After))
	}
	if q.UserID != "" {
		p := arg(q.UserID)
		where = append(where, "(user_id = "+p+" OR actor_id = "+p+")")
	}
	if q.Action != "" {
		where = append(where, "action = "+arg(q.Action))
	}
	query := `SELECT id, time, action, outcome, user_id, actor_id, ip, user_agent, detail FROM audit_events`
	if len(where) > 0 {
		query += " WHERE " + strings.Join(where, " AND ")
	}
	query += " ORDER BY id DESC LIMIT " + arg(max(q.Limit, 0))
	ctx, cancel := st.db.bound(ctx)
	defer cancel()
	rows, err := st.db.pool.Query(ctx, query, args...)
	if err != nil {
		return nil, storeErr("list audit events", err)
	}
	out, err := pgx.CollectRows(rows, scanAuditEvent)
	return out, storeErr("list audit events", err)
}

func scanAuditEvent(row pgx.CollectableRow) (*gatehouse.AuditEvent, error) {
	var e gatehouse.AuditEvent
	var t int64
	err := row.Scan(&e.ID, &t, &e.Action, &e.Outcome, &e.UserID, &e.ActorID, &e.IP, &e.UserAgent, &e.Detail)
	e.Time = fromNanos(t)
	return &e, err
}

// DeleteExpired drops the events older than the retention at now. It is a sweep, not a
// request: it gets ten times the call timeout.
func (st *AuditStore) DeleteExpired(ctx context.Context, now time.Time) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*st.db.timeout)
	defer cancel()
	tag, err := st.db.pool.Exec(ctx, `DELETE FROM audit_events WHERE time < $1`, now.Add(-st.retention).UnixNano())
	if err != nil {
		return 0, storeErr("delete expired audit events", err)
	}
	return int(tag.RowsAffected()), nil
}
