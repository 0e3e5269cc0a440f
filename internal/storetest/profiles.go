package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse"
)

// testUserProfileFields changes name, e-mail and its verified flag, alone and together.
func testUserProfileFields(t *testing.T, s gatehouse.UserStore) {
	ctx := context.Background()
	want := NewTestUser("olivia", userBase)
	want.EmailVerified = true
	mustCreateUser(t, s, want)
	if err := SameUser(mustUserByID(t, s, want.ID), want); err != nil {
		t.Fatalf("created: %v", err)
	}
	name, email, no := "Olivia Ñúñez", "Olivia.N@Example.TEST", false
	steps := []struct {
		name  string
		upd   gatehouse.UserUpdate
		apply func(*gatehouse.User)
	}{
		{"name", gatehouse.UserUpdate{Name: &name}, func(u *gatehouse.User) { u.Name = name }},
		{"email and unverified", gatehouse.UserUpdate{Email: &email, EmailVerified: &no},
			func(u *gatehouse.User) { u.Email, u.EmailVerified = email, false }},
	}
	for _, st := range steps {
		st.apply(want)
		got, err := s.UpdateUser(ctx, want.ID, st.upd)
		if err != nil {
			t.Fatalf("UpdateUser(%s): %v", st.name, err)
		}
		if err := SameUser(got, want); err != nil {
			t.Errorf("UpdateUser(%s) returned: %v", st.name, err)
		}
		if err := SameUser(mustUserByID(t, s, want.ID), want); err != nil {
			t.Errorf("after UpdateUser(%s), stored: %v", st.name, err)
		}
	}
	empty := ""
	if _, err := s.UpdateUser(ctx, want.ID, gatehouse.UserUpdate{Email: &empty}); err != nil {
		t.Fatalf("clearing the address: %v", err)
	}
	if _, err := s.UserByEmail(ctx, email); !errors.Is(err, gatehouse.ErrNotFound) {
		t.Errorf("UserByEmail(cleared address) = %v, want ErrNotFound", err)
	}
}

// testUserEmailUnique checks that an address belongs to one user, in any case, on create and
// on update, and that users without one do not collide.
func testUserEmailUnique(t *testing.T, s gatehouse.UserStore) {
	ctx := context.Background()
	first := NewTestUser("peggy", userBase)
	first.Email = "Peggy@Example.test"
	mustCreateUser(t, s, first)
	for i, addr := range []string{"Peggy@Example.test", "peggy@example.test", "PEGGY@EXAMPLE.TEST"} {
		u := NewTestUser(fmt.Sprintf("peggy%d", i), userBase.Add(time.Duration(i+1)*time.Millisecond))
		u.Email = addr
		if err := s.CreateUser(ctx, u); !errors.Is(err, gatehouse.ErrEmailTaken) {
			t.Errorf("CreateUser(email %q) = %v, want ErrEmailTaken", addr, err)
		}
	}
	if n, err := s.CountUsers(ctx); err != nil || n != 1 {
		t.Fatalf("CountUsers = %d, %v; want 1", n, err)
	}
	second := NewTestUser("quentin", userBase.Add(time.Second))
	mustCreateUser(t, s, second)
	taken := "pEgGy@example.TEST"
	if _, err := s.UpdateUser(ctx, second.ID, gatehouse.UserUpdate{Email: &taken}); !errors.Is(err, gatehouse.ErrEmailTaken) {
		t.Errorf("UpdateUser(email taken) = %v, want ErrEmailTaken", err)
	}
	if err := SameUser(mustUserByID(t, s, second.ID), second); err != nil {
		t.Errorf("a refused update changed the user: %v", err)
	}
	// The owner may change the case of its own address.
	own := "PEGGY@example.test"
	if _, err := s.UpdateUser(ctx, first.ID, gatehouse.UserUpdate{Email: &own}); err != nil {
		t.Errorf("changing the case of one's own address: %v", err)
	}
	checkNoAddressesCollide(t, s)
	checkAddressFreedByDelete(t, s, first.ID, own)
}

func checkNoAddressesCollide(t *testing.T, s gatehouse.UserStore) {
	for i := range 3 {
		u := NewTestUser(fmt.Sprintf("noaddr%d", i), userBase.Add(time.Duration(10+i)*time.Second))
		u.Email = ""
		mustCreateUser(t, s, u)
	}
}

func checkAddressFreedByDelete(t *testing.T, s gatehouse.UserStore, id, addr string) {
	ctx := context.Background()
	if err := s.DeleteUser(ctx, id); err != nil {
		t.Fatal(err)
	}
	u := NewTestUser("peggy-again", userBase.Add(time.Minute))
	u.Email = addr
	mustCreateUser(t, s, u)
}

func testUserEmailLookUp(t *testing.T, s gatehouse.UserStore) {
	ctx := context.Background()
	want := NewTestUser("rupert", userBase)
	want.Email = "Rupert.Smith@Example.test"
	mustCreateUser(t, s, want)
	mustCreateUser(t, s, NewTestUser("sybil", userBase.Add(time.Millisecond)))
	for _, addr := range []string{"Rupert.Smith@Example.test", "rupert.smith@example.test", "RUPERT.SMITH@EXAMPLE.TEST"} {
		got, err := s.UserByEmail(ctx, addr)
		if err != nil {
			t.Errorf("UserByEmail(%q): %v", addr, err)
			continue
		}
		if err := SameUser(got, want); err != nil {
			t.Errorf("UserByEmail(%q): %v", addr, err)
		}
	}
	for _, addr := range []string{"", "rupert.smith@example", "rupert", "%", "Rupert.Smith@Example.test "} {
		if _, err := s.UserByEmail(ctx, addr); !errors.Is(err, gatehouse.ErrNotFound) {
			t.Errorf("UserByEmail(%q) = %v, want ErrNotFound", addr, err)
		}
	}
}

func testUserGroupsRoundTrip(t *testing.T, s gatehouse.UserStore) {
	ctx := context.Background()
	want := NewTestUser("trent", userBase)
	want.Groups = []string{"admins.eu", "finance", "ops_team-2"}
	mustCreateUser(t, s, want)
	if err := SameUser(mustUserByID(t, s, want.ID), want); err != nil {
		t.Fatalf("created with groups: %v", err)
	}
	none := NewTestUser("uma", userBase.Add(time.Millisecond))
	mustCreateUser(t, s, none) // nil groups read back as an empty list
	none.Groups = []string{}
	if err := SameUser(mustUserByID(t, s, none.ID), none); err != nil {
		t.Errorf("created without groups: %v", err)
	}
	many := make([]string, gatehouse.MaxGroups)
	for i := range many {
		many[i] = fmt.Sprintf("g%03d", i)
	}
	for _, groups := range [][]string{{"finance"}, many, {}} {
		g := slices.Clone(groups)
		got, err := s.UpdateUser(ctx, want.ID, gatehouse.UserUpdate{Groups: &g})
		if err != nil {
			t.Fatalf("UpdateUser(%d groups): %v", len(groups), err)
		}
		want.Groups = groups
		if err := SameUser(got, want); err != nil {
			t.Errorf("UpdateUser(%d groups) returned: %v", len(groups), err)
		}
		if err := SameUser(mustUserByID(t, s, want.ID), want); err != nil {
			t.Errorf("UpdateUser(%d groups), stored: %v", len(groups), err)
		}
	}
}

// testUserGroupsRefused checks that a store refuses lists that are not normalised, and
// changes nothing then.
func testUserGroupsRefused(t *testing.T, s gatehouse.UserStore) {
	ctx := context.Background()
	u := NewTestUser("victor", userBase)
	u.Groups = []string{"a"}
	mustCreateUser(t, s, u)
	tooMany := make([]string, gatehouse.MaxGroups+1)
	for i := range tooMany {
		tooMany[i] = fmt.Sprintf("g%03d", i)
	}
	for _, groups := range [][]string{{"Finance"}, {"b", "a"}, {"a", "a"}, {"a,b"}, {""}, {"a b"}, tooMany} {
		g := groups
		if _, err := s.UpdateUser(ctx, u.ID, gatehouse.UserUpdate{Groups: &g}); gatehouse.ErrorCode(err) != gatehouse.EBADREQUEST {
			t.Errorf("UpdateUser(groups %q) = %v, want bad_request", groups, err)
		}
		c := NewTestUser("victor-"+fmt.Sprint(len(groups)), userBase.Add(time.Second))
		c.Groups = groups
		if err := s.CreateUser(ctx, c); gatehouse.ErrorCode(err) != gatehouse.EBADREQUEST {
			t.Errorf("CreateUser(groups %q) = %v, want bad_request", groups, err)
		}
	}
	if err := SameUser(mustUserByID(t, s, u.ID), u); err != nil {
		t.Errorf("refused updates changed the user: %v", err)
	}
	if n, _ := s.CountUsers(ctx); n != 1 {
		t.Errorf("refused creations stored %d users", n-1)
	}
}

func testUserSearch(t *testing.T, s gatehouse.UserStore) {
	ctx := context.Background()
	mk := func(i int, username, name, email string) *gatehouse.User {
		u := NewTestUser(username, userBase.Add(time.Duration(i)*time.Millisecond))
		u.Name, u.Email = name, email
		mustCreateUser(t, s, u)
		return u
	}
	ann := mk(0, "ann", "Ann Archer", "ann@alpha.test")
	bea := mk(1, "bea", "Beatrice ANNES", "bea@beta.test")
	cid := mk(2, "cid", "Cid", "cid@ANNEX.test")
	dee := mk(3, "dee_100%", "Dee", "")
	for q, want := range map[string][]*gatehouse.User{
		"":         {ann, bea, cid, dee},
		"ann":      {ann, bea, cid},
		"ANN":      {ann, bea, cid},
		"archer":   {ann},
		"beta.t":   {bea},
		"@":        {ann, bea, cid},
		"zzz":      {},
		"%":        {dee}, // no pattern characters: "%" is a character like any other
		"_":        {dee},
		"' OR 1=1": {},
	} {
		got, err := s.SearchUsers(ctx, gatehouse.UserQuery{Search: q, Limit: 10})
		if err != nil {
			t.Fatalf("SearchUsers(%q): %v", q, err)
		}
		if !sameIDs(got, want) {
			t.Errorf("SearchUsers(%q) = %v, want %v", q, ids(got), ids(want))
		}
	}
	page, err := s.SearchUsers(ctx, gatehouse.UserQuery{Search: "ann", After: ann.ID, Limit: 1})
	if err != nil || !sameIDs(page, []*gatehouse.User{bea}) {
		t.Errorf("SearchUsers(ann, after ann, 1) = %v, %v; want bea", ids(page), err)
	}
	if none, err := s.SearchUsers(ctx, gatehouse.UserQuery{Search: "ann", Limit: 0}); err != nil || len(none) != 0 {
		t.Errorf("SearchUsers(limit 0) = %d users, %v", len(none), err)
	}
}

func ids(us []*gatehouse.User) []string {
	out := make([]string, len(us))
	for i, u := range us {
		out[i] = u.Username
	}
	return out
}

func sameIDs(a, b []*gatehouse.User) bool {
	return slices.Equal(ids(a), ids(b))
}
