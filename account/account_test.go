package account_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse"
	"github.com/gatehouse-auth/gatehouse/account"
	"github.com/gatehouse-auth/gatehouse/argon2"
	"github.com/gatehouse-auth/gatehouse/internal/testkit"
	"github.com/gatehouse-auth/gatehouse/sqlite"
	"golang.org/x/text/unicode/norm"
)

var (
	small  = argon2.Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}
	bigger = argon2.Params{Memory: 128, Time: 2, Threads: 1, SaltLen: 16, KeyLen: 32}
	t0     = testkit.Start()
)

const goodPassword = "correct horse battery staple"

func openStore(t *testing.T) *sqlite.UserStore {
	t.Helper()
	db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "gatehouse.db"), 0)
	if err != nil {
		t.Fatalf("open sqlite: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	return sqlite.NewUserStore(db)
}

// countingHasher records every Hash and Verify call made through it.
type countingHasher struct {
	*argon2.Hasher
	mu       sync.Mutex
	hashes   int
	verified []string // the encoded hashes Verify was called with
}

func newHasher(p argon2.Params) *countingHasher {
	return &countingHasher{Hasher: argon2.New(argon2.Options{Params: p, MaxConcurrent: 2})}
}

func (c *countingHasher) Hash(ctx context.Context, password string) (string, error) {
	c.mu.Lock()
	c.hashes++
	c.mu.Unlock()
	return c.Hasher.Hash(ctx, password)
}

func (c *countingHasher) Verify(ctx context.Context, encoded, password string) (bool, bool, error) {
	c.mu.Lock()
	c.verified = append(c.verified, encoded)
	c.mu.Unlock()
	return c.Hasher.Verify(ctx, encoded, password)
}

func (c *countingHasher) counts() (hashes int, verified []string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.hashes, append([]string(nil), c.verified...)
}

func newService(t *testing.T, store gatehouse.UserStore, p argon2.Params, policy account.Policy) *account.Service {
	t.Helper()
	return account.New(store, newHasher(p), policy, func() time.Time { return t0 })
}

func mustCreate(t *testing.T, s *account.Service, in account.NewUser) *gatehouse.User {
	t.Helper()
	u, err := s.Create(context.Background(), in)
	if err != nil {
		t.Fatalf("Create(%q): %v", in.Username, err)
	}
	return u
}

func TestCreate(t *testing.T) {
	ctx := context.Background()
	store := openStore(t)
	s := newService(t, store, small, account.Policy{})
	u := mustCreate(t, s, account.NewUser{Username: "Alice", Password: goodPassword, Name: "Alice Liddell", Email: "alice@example.com"})
	if !gatehouse.ValidID(u.ID) || u.Username != "Alice" || u.Name != "Alice Liddell" || u.Email != "alice@example.com" ||
		u.Role != gatehouse.RoleUser || u.Disabled || !u.CreatedAt.Equal(t0) {
		t.Fatalf("Create returned %+v", u)
	}
	stored, err := store.UserByUsername(ctx, "alice")
	if err != nil || stored.ID != u.ID || stored.PasswordHash != u.PasswordHash {
		t.Fatalf("stored user = %+v, %v", stored, err)
	}
	p, _, _, err := argon2.Decode(stored.PasswordHash)
	if err != nil || p != small {
		t.Fatalf("stored hash params = %+v, %v; want %+v", p, err, small)
	}
	if strings.Contains(stored.PasswordHash, goodPassword) {
		t.Fatal("the password is stored in the clear")
	}
	admin := mustCreate(t, s, account.NewUser{Username: "root", Password: goodPassword, Role: gatehouse.RoleAdmin})
	if admin.Role != gatehouse.RoleAdmin {
		t.Fatalf("role = %q, want admin", admin.Role)
	}
}

func TestCreateConflict(t *testing.T) {
	s := newService(t, openStore(t), small, account.Policy{})
	mustCreate(t, s, account.NewUser{Username: "Bob", Password: goodPassword})
	for _, name := range []string{"Bob", "bob", "BOB"} {
		_, err := s.Create(context.Background(), account.NewUser{Username: name, Password: goodPassword})
		var e *gatehouse.Error
		if !errors.As(err, &e) || e.Code != gatehouse.ECONFLICT || e.Message != "username is taken" {
			t.Errorf("Create(%q) = %v, want conflict \"username is taken\"", name, err)
		}
	}
}

// TestCreateInvalid checks each rule, and that nothing is hashed or stored for invalid input.
func TestCreateInvalid(t *testing.T) {
	ctx := context.Background()
	store := openStore(t)
	h := newHasher(small)
	s := account.New(store, h, account.Policy{}, func() time.Time { return t0 })
	ok := account.NewUser{Username: "carol", Password: goodPassword, Name: "Carol", Email: "carol@example.com"}
	cases := []struct {
		field string
		edit  func(*account.NewUser)
	}{
		{"username", func(u *account.NewUser) { u.Username = "" }},
		{"username", func(u *account.NewUser) { u.Username = strings.Repeat("c", 65) }},
		{"username", func(u *account.NewUser) { u.Username = "carol smith" }},
		{"password", func(u *account.NewUser) { u.Password = strings.Repeat("p", 14) }},
		{"password", func(u *account.NewUser) { u.Password = strings.Repeat("p", 1025) }},
		{"password", func(u *account.NewUser) { u.Password = strings.Repeat("p", 10<<20); u.Name = "bad\n" }},
		{"name", func(u *account.NewUser) { u.Name = "line\nbreak" }},
		{"name", func(u *account.NewUser) { u.Name = strings.Repeat("n", 201) }},
		{"email", func(u *account.NewUser) { u.Email = "not an email" }},
		{"role", func(u *account.NewUser) { u.Role = "root" }},
		{"role", func(u *account.NewUser) { u.Role = "Admin" }},
	}
	for _, c := range cases {
		in := ok
		c.edit(&in)
		_, err := s.Create(ctx, in)
		wantBadRequest(t, c.field, err, c.field)
	}
	if hashes, _ := h.counts(); hashes != 0 {
		t.Errorf("%d hashes computed for invalid input, want 0", hashes)
	}
	if n, err := store.CountUsers(ctx); err != nil || n != 0 {
		t.Errorf("CountUsers = %d, %v; want 0", n, err)
	}
	mustCreate(t, s, ok)
}

func TestLogin(t *testing.T) {
	ctx := context.Background()
	s := newService(t, openStore(t), small, account.Policy{})
	created := mustCreate(t, s, account.NewUser{Username: "Dave", Password: goodPassword})
	for _, name := range []string{"Dave", "dave", "DAVE"} {
		u, err := s.Login(ctx, name, goodPassword)
		if err != nil || u.ID != created.ID {
			t.Errorf("Login(%q, right password) = %+v, %v", name, u, err)
		}
	}
	for _, pw := range []string{"", "correct horse battery stapl", "Correct horse battery staple", goodPassword + " "} {
		if u, err := s.Login(ctx, "dave", pw); !errors.Is(err, gatehouse.ErrInvalidCredentials) || u != nil {
			t.Errorf("Login(dave, %q) = %v, %v; want ErrInvalidCredentials", pw, u, err)
		}
	}
}

// TestLoginUnknownCostsAVerify checks that unknown and impossible usernames spend one Verify
// against the dummy hash, exactly as a known user spends one against theirs.
func TestLoginUnknownCostsAVerify(t *testing.T) {
	ctx := context.Background()
	h := newHasher(small)
	s := account.New(openStore(t), h, account.Policy{}, nil)
	known := mustCreate(t, s, account.NewUser{Username: "erin", Password: goodPassword})

	_, before := h.counts()
	if _, err := s.Login(ctx, "erin", "a wrong password!"); !errors.Is(err, gatehouse.ErrInvalidCredentials) {
		t.Fatalf("wrong password: %v", err)
	}
	_, after := h.counts()
	if got := after[len(before):]; len(got) != 1 || got[0] != known.PasswordHash {
		t.Fatalf("known user: Verify calls %q, want one against the user's hash", got)
	}

	for _, name := range []string{"nobody", "NOBODY", "", "has space", strings.Repeat("x", 65), strings.Repeat("y", 1<<20)} {
		_, before := h.counts()
		u, err := s.Login(ctx, name, goodPassword)
		if !errors.Is(err, gatehouse.ErrInvalidCredentials) || u != nil {
			t.Errorf("Login(unknown %.20q) = %v, %v; want ErrInvalidCredentials", name, u, err)
		}
		_, after := h.counts()
		if got := after[len(before):]; len(got) != 1 || got[0] != h.DummyHash() {
			t.Errorf("Login(unknown %.20q): Verify calls %q, want exactly one against the dummy hash", name, got)
		}
	}
}

func TestLoginTooLongPassword(t *testing.T) {
	h := newHasher(small)
	s := account.New(openStore(t), h, account.Policy{}, nil)
	mustCreate(t, s, account.NewUser{Username: "frank", Password: goodPassword})
	_, before := h.counts()
	for _, name := range []string{"frank", "nobody"} {
		_, err := s.Login(context.Background(), name, strings.Repeat("p", 1025))
		wantBadRequest(t, "Login("+name+", 1025 bytes)", err, "password")
	}
	if _, after := h.counts(); len(after) != len(before) {
		t.Fatalf("over-long passwords cost %d Verify calls, want 0", len(after)-len(before))
	}
	// 1024 bytes is allowed: a plain wrong password.
	if _, err := s.Login(context.Background(), "frank", strings.Repeat("p", 1024)); !errors.Is(err, gatehouse.ErrInvalidCredentials) {
		t.Fatalf("Login(1024 bytes) = %v, want ErrInvalidCredentials", err)
	}
}

func TestLoginDisabled(t *testing.T) {
	ctx := context.Background()
	store := openStore(t)
	s := newService(t, store, small, account.Policy{})
	u := mustCreate(t, s, account.NewUser{Username: "grace", Password: goodPassword})
	yes := true
	if _, err := store.UpdateUser(ctx, u.ID, gatehouse.UserUpdate{Disabled: &yes}); err != nil {
		t.Fatal(err)
	}
	_, err := s.Login(ctx, "grace", goodPassword)
	if gatehouse.ErrorCode(err) != gatehouse.EFORBIDDEN || gatehouse.ErrorMessage(err) != "this account is disabled" {
		t.Errorf("disabled, right password: %v; want forbidden \"this account is disabled\"", err)
	}
	if _, err := s.Login(ctx, "grace", "a wrong password!"); !errors.Is(err, gatehouse.ErrInvalidCredentials) {
		t.Errorf("disabled, wrong password: %v; want ErrInvalidCredentials", err)
	}
}

// TestLoginPreparedAndOlderForms: new passwords are kept as typed (PRECIS OpaqueString: NFC,
// compatibility characters kept), and passwords whose hash was made of the NFKC form, before
// passwords were prepared, keep working, even those that no new password could be.
func TestLoginPreparedAndOlderForms(t *testing.T) {
	ctx := context.Background()
	store := openStore(t)
	s := newService(t, store, small, account.Policy{})
	mustCreate(t, s, account.NewUser{Username: "heidi", Password: "ｐａｓｓｗｏｒｄｆｕｌｌｗｉｄｔｈ"})
	mustCreate(t, s, account.NewUser{Username: "ivan", Password: "plain ascii passphrase"})
	for _, c := range []struct {
		user, pw string
		ok       bool
	}{
		{"heidi", "ｐａｓｓｗｏｒｄｆｕｌｌｗｉｄｔｈ", true},
		{"heidi", "passwordfullwidth", false}, // another password now
		{"ivan", "plain ascii passphrase", true},
		// The older form is tried for every account (a hash does not say which form it holds).
		{"ivan", "ｐｌａｉｎ ａｓｃｉｉ ｐａｓｓｐｈｒａｓｅ", true},
	} {
		_, err := s.Login(ctx, c.user, c.pw)
		if c.ok && err != nil || !c.ok && !errors.Is(err, gatehouse.ErrInvalidCredentials) {
			t.Errorf("Login(%s, %s) = %v, want ok=%v", c.user, c.pw, err, c.ok)
		}
	}
	// Composed and decomposed accents are one password.
	mustCreate(t, s, account.NewUser{Username: "judy", Password: "crème brûlée déjà vu"})
	if _, err := s.Login(ctx, "judy", "cre\u0300me bru\u0302le\u0301e de\u0301ja\u0300 vu"); err != nil {
		t.Errorf("decomposed accents: %v", err)
	}
	// Hashes made before preparation, of the NFKC form: a password with a tab or a zero-width
	// space (which no new password may have), one that NFKC expands past 1024 bytes, and one
	// typed with ligatures.
	for _, pw := range []string{"an old\tpassword with a tab", "zero\u200bwidth old password",
		strings.Repeat("\ufdfa", 341) + "x", "ﬁne old ﬂoating password"} {
		u := storeOlderHash(t, store, pw)
		if _, err := s.Login(ctx, u.Username, pw); err != nil {
			t.Errorf("older hash of %q: %v", pw, err)
		}
		if _, err := s.Login(ctx, u.Username, pw[:len(pw)-1]+"!"); !errors.Is(err, gatehouse.ErrInvalidCredentials) {
			t.Errorf("older hash of %q, wrong password: %v; want ErrInvalidCredentials", pw, err)
		}
		if cur, _ := store.UserByID(ctx, u.ID); cur.PasswordHash != u.PasswordHash {
			t.Errorf("older hash of %q was replaced at login: whoever types the other spelling would be locked out", pw)
		}
	}
}

// storeOlderHash stores a user whose hash was made as before passwords were prepared: of the
// NFKC form of pw, with no policy check.
func storeOlderHash(t *testing.T, store gatehouse.UserStore, pw string) *gatehouse.User {
	t.Helper()
	h := argon2.New(argon2.Options{Params: small})
	hash, err := h.Hash(context.Background(), norm.NFKC.String(pw))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	u := &gatehouse.User{ID: gatehouse.NewID(now), Username: fmt.Sprintf("old%d", now.UnixNano()%1e9), Role: gatehouse.RoleUser,
		CreatedAt: now, PasswordHash: hash}
	if err := store.CreateUser(context.Background(), u); err != nil {
		t.Fatal(err)
	}
	return u
}
