package sqlite

import (
	"context"
	"strings"
	"time"

	"github.com/gatehouse-auth/gatehouse"
)

var (
	_ gatehouse.AuditStore = (*AuditStore)(nil)
	_ gatehouse.Expirer    = (*AuditStore)(nil)
)

// AuditStore is a gatehouse.AuditStore on the audit_events table (migration 002).
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
	_, err := st.db.db.ExecContext(ctx, `INSERT INTO audit_events
		(id, time, action, outcome, user_id, actor_id, ip, user_agent, detail) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		e.ID, nanos(e.Time), e.Action, e.Outcome, e.UserID, e.ActorID, e.IP, e.UserAgent, e.Detail)
	return storeErr("append audit event", err)
}

// ListAudit returns the events q selects, newest first.
func (st *AuditStore) ListAudit(ctx context.Context, q gatehouse.AuditQuery) ([]*gatehouse.AuditEvent, error) {
	var where []string
	var args []any
	if q.After != "" {
		where, args = append(where, "id < ?"), append(args, q.After)
	}
	if q.UserID != "" {
		where, args = append(where, "(user_id = ? OR actor_id = ?)"), append(args, q.UserID, q.UserID)
	}
	if q.Action != "" {
		where, args = append(where, "action = ?"), append(args, q.Action)
	}
	query := `SELECT id, time, action, outcome, user_id, actor_id, ip, user_agent, detail FROM audit_events`
	if len(where) > 0 {
		query += " WHERE " + strings.Join(where, " AND ")
	}
	rows, err := st.db.db.QueryContext(ctx, query+" ORDER BY id DESC LIMIT ?", append(args, q.Limit)...)
	if err != nil {
		return nil, storeErr("list audit events", err)
	}
	defer rows.Close()
	var out []*gatehouse.AuditEvent
	for rows.Next() {
		var e gatehouse.AuditEvent
		var t int64
		if err := rows.Scan(&e.ID, &t, &e.Action, &e.Outcome, &e.UserID, &e.ActorID, &e.IP, &e.UserAgent, &e.Detail); err != nil {
			return nil, storeErr("list audit events", err)
		}
		e.Time = fromNanos(t)
		out = append(out, &e)
	}
	return out, storeErr("list audit events", rows.Err())
}

// DeleteExpired drops the events older than the retention at now.
func (st *AuditStore) DeleteExpired(ctx context.Context, now time.Time) (int, error) {
	res, err := st.db.db.ExecContext(ctx, `DELETE FROM audit_events WHERE time < ?`, now.Add(-st.retention).UnixNano())
	if err != nil {
		return 0, storeErr("delete expired audit events", err)
	}
	n, _ := res.RowsAffected()
	return int(n), nil
}
