package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/gatehouse-auth/gatehouse"
	"github.com/gatehouse-auth/gatehouse/postgres"
	"github.com/gatehouse-auth/gatehouse/redis"
	"github.com/gatehouse-auth/gatehouse/sqlite"
	"github.com/gatehouse-auth/gatehouse/token"
)

// The parts of gatehouse migrate. Each is idempotent: what the target holds already (by id,
// or by session hash) is counted and skipped, so that an interrupted copy resumes.

// migratePage is how many records one step of a copy reads.
const migratePage = 500

// eachUser calls fn for every user of the source, in pages.
func (m *migration) eachUser(ctx context.Context, fn func(*gatehouse.User) error) error {
	users := sqlite.NewUserStore(m.src)
	after := ""
	for {
		page, err := users.ListUsers(ctx, after, migratePage)
		if err != nil || len(page) == 0 {
			return err
		}
		for _, u := range page {
			if err := fn(u); err != nil {
				return err
			}
		}
		after = page[len(page)-1].ID
	}
}

// copyUsers copies every user with its id, creation time and password hash. A username that
// the target holds under another id is an error: two deployments' accounts are never merged.
func (m *migration) copyUsers(ctx context.Context) (string, error) {
	target := postgres.NewUserStore(m.tgt.shared.pg)
	var t tally
	err := m.eachUser(ctx, func(u *gatehouse.User) error {
		err := target.CreateUser(ctx, u)
		if !errors.Is(err, gatehouse.ErrConflict) {
			t.copied++
			return err
		}
		there, lerr := target.UserByID(ctx, u.ID)
		if lerr != nil || there.Username != u.Username {
			return fmt.Errorf("the target holds another account named %q: refusing to merge two deployments' users", u.Username)
		}
		t.present++
		return nil
	})
	return t.String(), err
}

// copyRefresh copies every refresh family with all its tokens, rotated ones included.
func (m *migration) copyRefresh(ctx context.Context) (string, error) {
	from := sqlite.NewRefreshStore(m.src)
	to := postgres.NewRefreshStore(m.tgt.shared.pg)
	var t tally
	after := ""
	for {
		page, err := from.ExportRefreshFamilies(ctx, after, migratePage)
		if err != nil || len(page) == 0 {
			return t.String(), err
		}
		n, err := to.ImportRefreshFamilies(ctx, page)
		if err != nil {
			return t.String(), err
		}
		t.copied += n
		t.present += len(page) - n
		after = page[len(page)-1].Family.ID
	}
}

// copyRevocations copies the token revocations still in force and every not-before time into
// PostgreSQL and Redis, through the store the instances use (PostgreSQL first, then Redis).
// Both writes keep whatever is later, so a repeat changes nothing.
func (m *migration) copyRevocations(ctx context.Context) (string, error) {
	tokens, notBefore, err := sqlite.NewRevocationStore(m.src).ListRevocations(ctx, m.now())
	if err != nil {
		return "", err
	}
	to := redis.NewRevocationStore(m.tgt.shared.rdb, m.cfg.RedisPrefix, redis.RevocationOptions{
		Options: m.tgt.redisOptions(), Durable: postgres.NewRevocationStore(m.tgt.shared.pg)})
	for jti, exp := range tokens {
		if err := to.RevokeToken(ctx, jti, exp); err != nil {
			return "", err
		}
	}
	for userID, nb := range notBefore {
		if err := to.SetNotBefore(ctx, userID, nb); err != nil {
			return "", err
		}
	}
	return fmt.Sprintf("%d revoked tokens, %d users' not-before times", len(tokens), len(notBefore)), nil
}

// copyAudit copies the audit trail, event ids and times included.
func (m *migration) copyAudit(ctx context.Context) (string, error) {
	from := sqlite.NewAuditStore(m.src, 0)
	to := postgres.NewAuditStore(m.tgt.shared.pg, 0)
	var t tally
	q := gatehouse.AuditQuery{Limit: migratePage}
	for {
		page, err := from.ListAudit(ctx, q)
		if err != nil || len(page) == 0 {
			return t.String(), err
		}
		for _, e := range page {
			switch err := to.AppendAudit(ctx, e); {
			case errors.Is(err, gatehouse.ErrConflict):
				t.present++
			case err != nil:
				return t.String(), err
			default:
				t.copied++
			}
		}
		q.After = page[len(page)-1].ID
	}
}

// copySessions copies every session that has not expired into Redis, where it keeps its
// hash, handle, times and identity snapshot: the same cookie finds it.
func (m *migration) copySessions(ctx context.Context) (string, error) {
	from := sqlite.NewSessionStore(m.src)
	to := redis.NewSessionStore(m.tgt.shared.rdb, m.cfg.RedisPrefix, redis.SessionOptions{
		Options: m.tgt.redisOptions(), IdleTimeout: m.cfg.SessionIdle, MaxLifetime: m.cfg.SessionAbsolute,
		Format: m.cfg.RedisSessionFormat})
	now := m.now()
	var t tally
	err := m.eachUser(ctx, func(u *gatehouse.User) error {
		sessions, err := from.ListSessions(ctx, u.ID)
		if err != nil {
			return err
		}
		for _, s := range sessions {
			if !now.Before(s.ExpiresAt) || !now.Before(s.LastSeenAt.Add(m.cfg.SessionIdle)) {
				t.skipped++
				continue
			}
			switch err := to.CreateSession(ctx, s); {
			case errors.Is(err, gatehouse.ErrConflict):
				t.present++
			case err != nil:
				return err
			default:
				t.copied++
			}
		}
		return nil
	})
	return t.String(), err
}

// copyKeys checks the signing keys the copied tokens were signed with and, with --key-store
// postgres, copies them into PostgreSQL, sealed (unless the very same keys are there; other
// keys there are an error, never replaced). With a key file, it says where the instances must
// find it.
func (m *migration) copyKeys(ctx context.Context) (string, error) {
	path := m.cfg.keysPath()
	doc, kids, err := token.ReadKeys(token.FileStorage(path))
	if err != nil {
		return "", err
	}
	if m.cfg.keyStore.KeyStore != "postgres" {
		return fmt.Sprintf("%d keys in %s: give every instance this key file (--keys-file)", len(kids), path), nil
	}
	to, err := m.tgt.keyStorage(ctx)
	if err != nil {
		return "", err
	}
	if err := token.CopyKeys(doc, to); err != nil {
		return "", err
	}
	return fmt.Sprintf("%d keys from %s copied into the %s: start the instances with --key-store postgres and the same key-encryption key", len(kids), path, to), nil
}
