package sqlite_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse"
	"github.com/gatehouse-auth/gatehouse/session"
	"github.com/gatehouse-auth/gatehouse/sqlite"
)

// findSessionSizes are the numbers of active sessions BenchmarkFindSession looks up among.
var findSessionSizes = []int{1_000, 1_000_000}

// filledDB is a database holding n sessions of findSessionUsers users, made once per size and
// shared by the sub-benchmarks of that size.
type filledDB struct {
	once   sync.Once
	dir    string
	hashes []gatehouse.Hash
	err    error
}

var (
	filledMu sync.Mutex
	filled   = map[int]*filledDB{}
)

// findSessionUsers is how many users the sessions of BenchmarkFindSession belong to.
const findSessionUsers = 1000

// filledRoot holds the databases of fillSessions for the whole test binary (one benchmark's
// TempDir would vanish when it ends, under the next one that shares the database); TestMain
// removes it.
var filledRoot string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "gatehouse-sqlite-bench-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	filledRoot = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// fillSessions returns the path of a database with n sessions (created with CreateSessions in
// batches of 10,000, one transaction each) and their hashes, made once per test binary.
func fillSessions(b *testing.B, n int) (string, []gatehouse.Hash) {
	b.Helper()
	filledMu.Lock()
	f := filled[n]
	if f == nil {
		f = &filledDB{}
		f.dir, f.err = os.MkdirTemp(filledRoot, "sessions-")
		filled[n] = f
	}
	filledMu.Unlock()
	f.once.Do(func() {
		if f.err != nil {
			return
		}
		ctx := context.Background()
		db, err := sqlite.Open(ctx, filepath.Join(f.dir, "gatehouse.db"), 0)
		if err != nil {
			f.err = err
			return
		}
		defer db.Close()
		now := time.Now()
		users := make([]gatehouse.Principal, findSessionUsers)
		us := sqlite.NewUserStore(db)
		for i := range users {
			u := &gatehouse.User{ID: gatehouse.NewID(now), Username: "user" + strconv.Itoa(i), Name: "User " + strconv.Itoa(i),
				Email: "user" + strconv.Itoa(i) + "@example.com", Role: gatehouse.RoleUser, Groups: []string{"ops", "staff"},
				CreatedAt: now, PasswordHash: "x"}
			if f.err = us.CreateUser(ctx, u); f.err != nil {
				return
			}
			users[i] = u.Principal()
		}
		st := sqlite.NewSessionStore(db)
		batch := make([]*gatehouse.Session, 0, 10_000)
		for i := range n {
			h := gatehouse.HashSecret(gatehouse.NewSecret())
			f.hashes = append(f.hashes, h)
			batch = append(batch, &gatehouse.Session{Hash: h, Handle: gatehouse.SessionHandle(h), User: users[i%len(users)],
				CreatedAt: now, LastSeenAt: now, ExpiresAt: now.Add(12 * time.Hour),
				IP: "203.0.113.42", UserAgent: "curl/8.5.0", AMR: gatehouse.MethodPassword})
			if len(batch) == cap(batch) || i == n-1 {
				if f.err = st.CreateSessions(ctx, batch); f.err != nil {
					return
				}
				batch = batch[:0]
			}
		}
		_, f.err = db.SQL().Exec(`PRAGMA wal_checkpoint(TRUNCATE)`)
	})
	if f.err != nil {
		b.Fatal(f.err)
	}
	return filepath.Join(f.dir, "gatehouse.db"), f.hashes
}

// BenchmarkFindSession (-short: 1k only) looks up sessions drawn at random among n active ones,
// n = 1k and 1M: "store" straight from SQLite, then through the session cache that serve puts
// in front of it, bounded as it was by default before (100,000 sessions) and as it is now (512
// MiB, --session-cache-memory), each warmed by one pass over every session as gatehouse bench
// does. The ratio of the 1M to the 1k figure is what gatehouse bench's growth section shows
// for session-sqlite.
func BenchmarkFindSession(b *testing.B) {
	ctx := context.Background()
	caches := []struct {
		name string
		opts session.CacheOptions
	}{
		{"cache-100k-sessions", session.CacheOptions{Size: 100_000}},
		{"cache-512MiB", session.CacheOptions{MaxBytes: 512 << 20}},
	}
	for _, n := range findSessionSizes {
		if n > 1000 && testing.Short() {
			continue
		}
		path, hashes := fillSessions(b, n)
		db, err := sqlite.Open(ctx, path, 0)
		if err != nil {
			b.Fatal(err)
		}
		st := sqlite.NewSessionStore(db)
		b.Run("store/"+strconv.Itoa(n), func(b *testing.B) {
			r := rand.New(rand.NewPCG(1, uint64(n)))
			for range b.N {
				if _, found, err := st.FindSession(ctx, hashes[r.IntN(len(hashes))]); err != nil || !found {
					b.Fatalf("FindSession = %v, %v", found, err)
				}
			}
		})
		for _, cc := range caches {
			c := session.Cached(st, cc.opts)
			for _, h := range hashes {
				if _, found, err := c.FindSharedSession(ctx, h); err != nil || !found {
					b.Fatalf("FindSharedSession = %v, %v", found, err)
				}
			}
			b.Run(cc.name+"/"+strconv.Itoa(n), func(b *testing.B) {
				r := rand.New(rand.NewPCG(2, uint64(n)))
				was := c.Stats()
				for range b.N {
					if _, found, err := c.FindSharedSession(ctx, hashes[r.IntN(len(hashes))]); err != nil || !found {
						b.Fatalf("FindSharedSession = %v, %v", found, err)
					}
				}
				st := c.Stats()
				b.ReportMetric(float64(st.CacheHits-was.CacheHits)/float64(b.N), "hits/op")
			})
		}
		db.Close()
	}
}

// BenchmarkTouchSession writes the last-seen times of sessions drawn at random among 1M (1k
// with -short): "one" commits each touch on its own, as a request did when it wrote its
// session's last-seen time itself; "batch-N" writes them N at a time in one transaction
// (TouchSessions), as the session manager's batched touches do off the request path. The
// figure is per touch.
func BenchmarkTouchSession(b *testing.B) {
	ctx := context.Background()
	n := findSessionSizes[len(findSessionSizes)-1]
	if testing.Short() {
		n = findSessionSizes[0]
	}
	path, hashes := fillSessions(b, n)
	db, err := sqlite.Open(ctx, path, 0)
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	st := sqlite.NewSessionStore(db)
	seen := time.Now()
	b.Run("one", func(b *testing.B) {
		r := rand.New(rand.NewPCG(3, uint64(n)))
		for range b.N {
			seen = seen.Add(time.Millisecond)
			if found, err := st.TouchSession(ctx, hashes[r.IntN(len(hashes))], seen); err != nil || !found {
				b.Fatalf("TouchSession = %v, %v", found, err)
			}
		}
	})
	for _, size := range []int{100, 1000, 10_000} {
		b.Run("batch-"+strconv.Itoa(size), func(b *testing.B) {
			r := rand.New(rand.NewPCG(4, uint64(n)))
			batch := make([]gatehouse.SessionTouch, 0, size)
			flush := func() {
				if err := st.TouchSessions(ctx, batch); err != nil {
					b.Fatal(err)
				}
				batch = batch[:0]
			}
			for range b.N {
				seen = seen.Add(time.Millisecond)
				batch = append(batch, gatehouse.SessionTouch{Hash: hashes[r.IntN(len(hashes))], LastSeen: seen})
				if len(batch) == size {
					flush()
				}
			}
			flush()
		})
	}
}
