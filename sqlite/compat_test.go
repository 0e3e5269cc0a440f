package sqlite_test

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse"
	"github.com/gatehouse-auth/gatehouse/internal/schema"
	"github.com/gatehouse-auth/gatehouse/internal/storetest"
	"github.com/gatehouse-auth/gatehouse/sqlite"
)

// TestOpensDatabaseOfEarlierRelease opens a database that an earlier gatehouse created and
// migrated (testdata/schema-v4.sql): the versions it records are not applied again, the later
// ones are, and the stores work on it.
func TestOpensDatabaseOfEarlierRelease(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "old.db")
	dump, err := os.ReadFile("testdata/schema-v4.sql")
	if err != nil {
		t.Fatal(err)
	}
	raw, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := raw.ExecContext(ctx, string(dump)); err != nil {
		t.Fatalf("load the old database: %v", err)
	}
	before := appliedAt(t, raw)
	raw.Close()

	db, err := sqlite.Open(ctx, path, 0)
	if err != nil {
		t.Fatalf("open the old database: %v", err)
	}
	defer db.Close()
	after := appliedAt(t, db.SQL())
	for v, at := range before {
		if after[v] != at {
			t.Errorf("migration %d recorded at %d, then %d: applied again", v, at, after[v])
		}
	}
	files, _ := filepath.Glob("migrations/*.sql")
	if len(after) != len(files) {
		t.Errorf("schema_migrations has %d rows, want %d (one per migration)", len(after), len(files))
	}
	users := sqlite.NewUserStore(db)
	u := storetest.NewTestUser("olive", gatehouse.Now())
	if err := users.CreateUser(ctx, u); err != nil {
		t.Fatalf("CreateUser on the old database: %v", err)
	}
	if got, err := users.UserByID(ctx, u.ID); err != nil || got.Username != "olive" {
		t.Fatalf("UserByID = %+v, %v", got, err)
	}
}

// appliedAt returns schema_migrations as a map from version to applied_at.
func appliedAt(t *testing.T, db *sql.DB) map[int]int64 {
	t.Helper()
	rows, err := db.Query(`SELECT version, applied_at FROM schema_migrations`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	m := map[int]int64{}
	for rows.Next() {
		var v int
		var at int64
		if err := rows.Scan(&v, &at); err != nil {
			t.Fatal(err)
		}
		m[v] = at
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return m
}

// TestSessionsSurviveCompaction stores sessions in a database at schema version 10 (the one
// before sessions were made compact), opens it with this version, and finds every session with
// every field it had: by hash, by handle and in its user's list, and a sign-in's session keeps
// no copy of its user's row.
func TestSessionsSurviveCompaction(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "v10.db")
	raw, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	ms, err := schema.Load(os.DirFS("."), "migrations")
	if err != nil {
		t.Fatal(err)
	}
	ms = slices.DeleteFunc(ms, func(m schema.Migration) bool { return m.Version > 10 })
	if err := schema.Migrate(ctx, raw, schema.SQLite, ms); err != nil {
		t.Fatal(err)
	}
	now := gatehouse.Now()
	u := storetest.NewTestUser("olive", now)
	u.Groups = []string{"dev", "ops"}
	if _, err := raw.ExecContext(ctx, `INSERT INTO users (id, username, username_norm, name, email, role, group_list,
		password_hash, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`, u.ID, u.Username, u.Username, u.Name, u.Email,
		string(u.Role), gatehouse.JoinGroups(u.Groups), u.PasswordHash, now.UnixNano()); err != nil {
		t.Fatal(err)
	}
	signIn := storetest.NewTestSession(u.ID, now) // as a sign-in made it
	signIn.Handle, signIn.User = gatehouse.SessionHandle(signIn.Hash), u.Principal()
	signIn.User.Groups = slices.Clone(u.Groups)
	var sessions []*gatehouse.Session
	for i := range 40 { // hashes with every first byte, some read as negative keys
		s := storetest.NewTestSession("someone-else", now.Add(time.Duration(i)))
		s.Hash[0] = byte(i * 7)
		s.Handle = gatehouse.SessionHandle(s.Hash) // stored, since version 10 stores every handle
		sessions = append(sessions, s)
	}
	kept := storetest.NewTestSession(u.ID, now.Add(time.Second)) // its own principal and handle
	kept.User.Role = gatehouse.RoleAdmin
	sessions = append(sessions, signIn, kept)
	for _, s := range sessions {
		if _, err := raw.ExecContext(ctx, `INSERT INTO sessions (hash, handle, user_id, username, name, email, role,
			created_at, last_seen_at, expires_at, ip, user_agent, groups, amr) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			s.Hash[:], s.Handle, s.User.UserID, s.User.Username, s.User.Name, s.User.Email, string(s.User.Role),
			s.CreatedAt.UnixNano(), s.LastSeenAt.UnixNano(), s.ExpiresAt.UnixNano(), s.IP, s.UserAgent,
			gatehouse.JoinGroups(s.User.Groups), int64(s.AMR)); err != nil {
			t.Fatal(err)
		}
	}
	// A session whose hash shares its first 8 bytes with the sign-in's, after it in hash order:
	// it is dropped and the upgrade goes on.
	twin := storetest.NewTestSession(u.ID, now)
	twin.Hash = signIn.Hash
	for i := 8; i < len(twin.Hash); i++ {
		twin.Hash[i] = 0xff
	}
	if _, err := raw.ExecContext(ctx, `INSERT INTO sessions (hash, handle, user_id, username, name, email, role,
		created_at, last_seen_at, expires_at, ip, user_agent) VALUES (?, ?, ?, '', '', '', 'user', 1, 1, 1, '', '')`,
		twin.Hash[:], twin.Handle, u.ID); err != nil {
		t.Fatal(err)
	}
	raw.Close()

	db, err := sqlite.Open(ctx, path, 0)
	if err != nil {
		t.Fatalf("open the version 10 database: %v", err)
	}
	defer db.Close()
	st := sqlite.NewSessionStore(db)
	for i, s := range sessions {
		got, found, err := st.FindSession(ctx, s.Hash)
		if err != nil || !found {
			t.Fatalf("session %d: FindSession = %v, %v", i, found, err)
		}
		if err := storetest.SameSession(got, s); err != nil {
			t.Fatalf("session %d: %v", i, err)
		}
		if got, found, err := st.SessionByHandle(ctx, s.Handle); err != nil || !found || storetest.SameSession(got, s) != nil {
			t.Fatalf("session %d: SessionByHandle = %v, %v", i, found, err)
		}
	}
	if _, found, err := st.FindSession(ctx, twin.Hash); err != nil || found {
		t.Fatalf("the dropped twin: FindSession = %v, %v; want not found", found, err)
	}
	list, err := st.ListSessions(ctx, u.ID)
	if err != nil || len(list) != 2 || storetest.SameSession(list[0], signIn) != nil || storetest.SameSession(list[1], kept) != nil {
		t.Fatalf("ListSessions = %d sessions, %v; want the user's two, oldest first", len(list), err)
	}
	var copies int
	if err := db.SQL().QueryRow(`SELECT count(*) FROM sessions WHERE username IS NOT NULL`).Scan(&copies); err != nil ||
		copies != len(sessions)-1 {
		t.Fatalf("%d sessions keep a principal, %v; want all but the sign-in's (%d)", copies, err, len(sessions)-1)
	}
	if found, err := st.DeleteSession(ctx, signIn.Hash); err != nil || !found {
		t.Fatalf("DeleteSession after the upgrade = %v, %v", found, err)
	}
}
