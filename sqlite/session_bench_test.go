package sqlite_test

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse"
	"github.com/gatehouse-auth/gatehouse/sqlite"
)

// BenchmarkSessionFile measures the database file space per session: the size of the file
// (after a checkpoint that folds the write-ahead log into it) before and after storing 100,000
// sessions (the operation count is ignored), divided by their number. The sessions have the
// shape of redis.BenchmarkSessionMemory's "short" case, one user each; the users are stored
// before the first measurement (they are there whether they have sessions or not), and each
// session carries its user's principal, as a sign-in makes it.
func BenchmarkSessionFile(b *testing.B) {
	const n = 100_000
	ctx := context.Background()
	for range b.N {
		path := filepath.Join(b.TempDir(), "gatehouse.db")
		db, err := sqlite.Open(ctx, path, 0)
		if err != nil {
			b.Fatal(err)
		}
		now := time.Now()
		users := sqlite.NewUserStore(db)
		principals := make([]gatehouse.Principal, n)
		for i := range principals {
			u := &gatehouse.User{ID: gatehouse.NewID(now), Username: "user" + strconv.Itoa(i), Name: "User " + strconv.Itoa(i),
				Email: "user" + strconv.Itoa(i) + "@example.com", Role: gatehouse.RoleUser, Groups: []string{"ops", "staff"},
				CreatedAt: now, PasswordHash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g"}
			if err := users.CreateUser(ctx, u); err != nil {
				b.Fatal(err)
			}
			principals[i] = u.Principal()
		}
		before := checkpointedSize(b, db, path)
		st := sqlite.NewSessionStore(db)
		for i := range n {
			h := gatehouse.HashSecret(gatehouse.NewSecret())
			s := &gatehouse.Session{
				Hash: h, Handle: gatehouse.SessionHandle(h), User: principals[i],
				CreatedAt: now, LastSeenAt: now, ExpiresAt: now.Add(12 * time.Hour),
				IP: "203.0.113.42", UserAgent: "curl/8.5.0", AMR: gatehouse.MethodPassword,
			}
			if err := st.CreateSession(ctx, s); err != nil {
				b.Fatal(err)
			}
		}
		after := checkpointedSize(b, db, path)
		b.ReportMetric(float64(after-before)/n, "B/session")
		db.Close()
	}
}

func checkpointedSize(tb testing.TB, db *sqlite.DB, path string) int64 {
	tb.Helper()
	if _, err := db.SQL().Exec(`PRAGMA wal_checkpoint(TRUNCATE)`); err != nil {
		tb.Fatal(err)
	}
	st, err := os.Stat(path)
	if err != nil {
		tb.Fatal(err)
	}
	return st.Size()
}
