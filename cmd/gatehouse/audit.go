package main

import (
	"context"
	"log/slog"
	"os"
	"time"

	"github.com/gatehouse-auth/gatehouse"
	"github.com/gatehouse-auth/gatehouse/sqlite"
)

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

// auditKeyRotation records a key rotation in the database of the data directory, if there is
// one already (a rotation before the first start creates no database).
func auditKeyRotation(ctx context.Context, cfg *config, log *slog.Logger, kid string) {
	if _, err := os.Stat(cfg.dbPath()); err != nil {
		return
	}
	db, err := sqlite.Open(ctx, cfg.dbPath(), 0)
	if err != nil {
		log.Warn("audit: opening the database to record the key rotation failed", "err", err)
		return
	}
	defer db.Close()
	recordAudit(ctx, log, sqlite.NewAuditStore(db, 0), gatehouse.AuditEvent{Action: gatehouse.AuditKeyRotated,
		Outcome: gatehouse.AuditSuccess, Detail: "kid " + kid + ", " + cfg.SigningAlg})
}
