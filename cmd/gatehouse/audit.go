package main

import (
	"context"
	"log/slog"
	"os"
	"time"

	"github.com/gatehouse-auth/gatehouse"
	"github.com/gatehouse-auth/gatehouse/account"
	"github.com/gatehouse-auth/gatehouse/postgres"
	"github.com/gatehouse-auth/gatehouse/sqlite"
)

// auditStore returns the audit trail's store, swept by the maintenance loop. The trail lives
// with the users: in PostgreSQL with --user-store postgres (shared by every instance), else in
// the SQLite database.
func (a *app) auditStore() gatehouse.AuditStore {
	if a.shared.pg != nil {
		st := postgres.NewAuditStore(a.shared.pg, a.cfg.AuditRetention)
		a.expirers = append(a.expirers, st)
		return st
	}
	if a.db == nil {
		return nil
	}
	st := sqlite.NewAuditStore(a.db, a.cfg.AuditRetention)
	a.expirers = append(a.expirers, st)
	return st
}

// auditSink is where events recorded outside a request go (the first admin, "gatehouse user
// add"): the audit table of the user store.
func (a *app) auditSink() gatehouse.AuditStore {
	switch {
	case a.shared.pg != nil:
		return postgres.NewAuditStore(a.shared.pg, 0)
	case a.db != nil:
		return sqlite.NewAuditStore(a.db, 0)
	}
	return nil
}

// auditBootstrap records the creation of the first admin, which happens outside any request.
func (a *app) auditBootstrap(ctx context.Context) {
	u, err := a.users.UserByUsername(ctx, account.BootstrapUsername)
	if err != nil {
		a.log.Warn("audit: looking up the first admin failed", "err", err)
		return
	}
	recordAudit(ctx, a.log, a.auditSink(), gatehouse.AuditEvent{Action: gatehouse.AuditUserCreated,
		Outcome: gatehouse.AuditSuccess, UserID: u.ID, Detail: "first admin, created at first start"})
}

// recordAudit logs e as an "audit" record and stores it, for events that happen outside a
// request (the first admin, a key rotation). Storing is best effort.
func recordAudit(ctx context.Context, log *slog.Logger, st gatehouse.AuditStore, e gatehouse.AuditEvent) {
	now := time.Now()
	e.ID, e.Time = gatehouse.NewID(now), now
	log.Info("audit", "event_id", e.ID, "action", e.Action, "outcome", e.Outcome, "user_id", e.UserID, "detail", e.Detail)
	if st == nil {
		return
	}
	if err := st.AppendAudit(ctx, &e); err != nil {
		log.Warn("audit: storing an event failed", "event_id", e.ID, "action", e.Action, "err", err)
	}
}

// auditKeyRotation records a key rotation with the keys: in PostgreSQL when the keys live
// there, else in the database of the data directory, if there is one already (a rotation
// before the first start creates no database).
func auditKeyRotation(ctx context.Context, a *app, kid string) {
	e := gatehouse.AuditEvent{Action: gatehouse.AuditKeyRotated, Outcome: gatehouse.AuditSuccess,
		Detail: "kid " + kid + ", " + a.cfg.SigningAlg}
	if a.shared.pg != nil {
		recordAudit(ctx, a.log, postgres.NewAuditStore(a.shared.pg, 0), e)
		return
	}
	if _, err := os.Stat(a.cfg.dbPath()); err != nil {
		return
	}
	db, err := sqlite.Open(ctx, a.cfg.dbPath(), 0)
	if err != nil {
		a.log.Warn("audit: opening the database to record the key rotation failed", "err", err)
		return
	}
	defer db.Close()
	recordAudit(ctx, a.log, sqlite.NewAuditStore(db, 0), e)
}
