package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

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
	ctx, cancel := s.db.bound(ctx)
	defer cancel()
	return s.db.tx(ctx, "create email link", func(tx pgx.Tx) error {
		if replace {
			if _, err := tx.Exec(ctx, `DELETE FROM email_links WHERE user_id = $1 AND purpose = $2`, l.UserID, string(l.Purpose)); err != nil {
				return err
			}
		}
		_, err := tx.Exec(ctx, `INSERT INTO email_links (hash, user_id, purpose, email, created_at, expires_at)
			VALUES ($1, $2, $3, $4, $5, $6)`, l.Hash[:], l.UserID, string(l.Purpose), l.Email, nanos(l.CreatedAt), nanos(l.ExpiresAt))
		return err
	})
}

// ConsumeEmailLink deletes and returns the link in one statement (DELETE ... RETURNING), so
// that of concurrent calls exactly one gets it.
func (s *EmailLinkStore) ConsumeEmailLink(ctx context.Context, h gatehouse.Hash, p gatehouse.LinkPurpose, now time.Time) (*gatehouse.EmailLink, bool, error) {
	ctx, cancel := s.db.bound(ctx)
	defer cancel()
	row := s.db.pool.QueryRow(ctx, `DELETE FROM email_links WHERE hash = $1 AND purpose = $2 AND expires_at > $3
		RETURNING user_id, purpose, email, created_at, expires_at`, h[:], string(p), nanos(now))
	l := gatehouse.EmailLink{Hash: h}
	var purpose string
	var created, expires int64
	err := row.Scan(&l.UserID, &purpose, &l.Email, &created, &expires)
	if errors.Is(err, pgx.ErrNoRows) {
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
	ctx, cancel := s.db.bound(ctx)
	defer cancel()
	tag, err := s.db.pool.Exec(ctx, `DELETE FROM email_links WHERE user_id = $1 AND ($2 = '' OR purpose = $2)`, userID, string(p))
	if err != nil {
		return 0, storeErr("delete user email links", err)
	}
	return int(tag.RowsAffected()), nil
}

// DeleteExpired removes the links that expired at or before now.
func (s *EmailLinkStore) DeleteExpired(ctx context.Context, now time.Time) (int, error) {
	ctx, cancel := s.db.bound(ctx)
	defer cancel()
	tag, err := s.db.pool.Exec(ctx, `DELETE FROM email_links WHERE expires_at <= $1`, nanos(now))
	if err != nil {
		return 0, storeErr("delete expired email links", err)
	}
	return int(tag.RowsAffected()), nil
}
