package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/gatehouse-auth/gatehouse"
)

var (
	_ gatehouse.EmailLinkStore = (*EmailLinkStore)(nil)
	_ gatehouse.Expirer        = (*EmailLinkStore)(nil)
)

// EmailLinkStore is a gatehouse.EmailLinkStore on the email_links table.
type EmailLinkStore struct {
	db *DB
}

// NewEmailLinkStore returns an EmailLinkStore on db.
func NewEmailLinkStore(db *DB) *EmailLinkStore { return &EmailLinkStore{db: db} }

// CreateEmailLink stores l, first removing, in the same transaction, the user's other links
// of the same purpose when replace is set. It returns an error wrapping gatehouse.ErrConflict
// if the hash exists.
func (s *EmailLinkStore) CreateEmailLink(ctx context.Context, l *gatehouse.EmailLink, replace bool) error {
	tx, err := s.db.db.BeginTx(ctx, nil)
	if err != nil {
		return storeErr("create email link", err)
	}
	defer tx.Rollback()
	if replace {
		if _, err := tx.ExecContext(ctx, `DELETE FROM email_links WHERE user_id = ? AND purpose = ?`, l.UserID, string(l.Purpose)); err != nil {
			return storeErr("create email link", err)
		}
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO email_links (hash, user_id, purpose, email, created_at, expires_at)
		VALUES (?, ?, ?, ?, ?, ?)`, l.Hash[:], l.UserID, string(l.Purpose), l.Email, nanos(l.CreatedAt), nanos(l.ExpiresAt)); err != nil {
		return storeErr("create email link", err)
	}
	return storeErr("create email link", tx.Commit())
}

// ConsumeEmailLink deletes and returns the link in one statement (DELETE ... RETURNING), so
// that of concurrent calls exactly one gets it.
func (s *EmailLinkStore) ConsumeEmailLink(ctx context.Context, h gatehouse.Hash, p gatehouse.LinkPurpose, now time.Time) (*gatehouse.EmailLink, bool, error) {
	row := s.db.db.QueryRowContext(ctx, `DELETE FROM email_links WHERE hash = ? AND purpose = ? AND expires_at > ?
		RETURNING user_id, purpose, email, created_at, expires_at`, h[:], string(p), nanos(now))
	l := gatehouse.EmailLink{Hash: h}
	var purpose string
	var created, expires int64
	err := row.Scan(&l.UserID, &purpose, &l.Email, &created, &expires)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, storeErr("consume email link", err)
	}
	l.Purpose, l.CreatedAt, l.ExpiresAt = gatehouse.LinkPurpose(purpose), fromNanos(created), fromNanos(expires)
	return &l, true, nil
}

// DeleteUserEmailLinks removes the user's links of purpose p ("" for all).
func (s *EmailLinkStore) DeleteUserEmailLinks(ctx context.Context, userID string, p gatehouse.LinkPurpose) (int, error) {
	res, err := s.db.db.ExecContext(ctx, `DELETE FROM email_links WHERE user_id = ? AND (? = '' OR purpose = ?)`, userID, string(p), string(p))
	if err != nil {
		return 0, storeErr("delete user email links", err)
	}
	n, err := res.RowsAffected()
	return int(n), storeErr("delete user email links", err)
}

// DeleteExpired removes the links that expired at or before now.
func (s *EmailLinkStore) DeleteExpired(ctx context.Context, now time.Time) (int, error) {
	res, err := s.db.db.ExecContext(ctx, `DELETE FROM email_links WHERE expires_at <= ?`, nanos(now))
	if err != nil {
		return 0, storeErr("delete expired email links", err)
	}
	n, err := res.RowsAffected()
	return int(n), storeErr("delete expired email links", err)
}
