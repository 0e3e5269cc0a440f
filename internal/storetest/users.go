package storetest

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse"
	"github.com/gatehouse-auth/gatehouse/internal/testkit"
)

// TestUserStore runs the gatehouse.UserStore contract. newStore must return an empty store for
// each subtest.
func TestUserStore(t *testing.T, newStore func(t *testing.T) gatehouse.UserStore) {
	tests := []struct {
		name string
		fn   func(*testing.T, gatehouse.UserStore)
	}{
		{"CreateAndLookUp", testUserCreateLookUp},
		{"UsernameConflictAnyCase", testUserConflict},
		{"NotFound", testUserNotFound},
		{"ListPaging", testUserListPaging},
		{"UpdateEachField", testUserUpdateFields},
		{"UpdateNothing", testUserUpdateNothing},
		{"Delete", testUserDelete},
		{"Count", testUserCount},
		{"Copies", testUserCopies},
		{"ProfileFields", testUserProfileFields},
		{"EmailUniqueAnyCase", testUserEmailUnique},
		{"EmailLookUp", testUserEmailLookUp},
		{"GroupsRoundTrip", testUserGroupsRoundTrip},
		{"GroupsRefused", testUserGroupsRefused},
		{"Search", testUserSearch},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel() // each case has a store of its own
			tt.fn(t, newStore(t))
		})
	}
}

// userBase is a time with nanoseconds that a store with microsecond precision would lose.
var userBase = testkit.Start().Add(987654321)

// NewTestUser returns an enabled user named username with role user, created at created,
// with a fresh id and non-ASCII name.
func NewTestUser(username string, created time.Time) *gatehouse.User {
	return &gatehouse.User{
		ID:           gatehouse.NewID(created),
		Username:     username,
		Name:         "Zoë " + username,
		Email:        username + "@example.test",
		Role:         gatehouse.RoleUser,
		CreatedAt:    created,
		PasswordHash: "$argon2id$v=19$m=64,t=1,p=1$c29tZXNhbHQ$" + username,
	}
}

// SameUser reports the first difference between two users, comparing times with Equal.
func SameUser(got, want *gatehouse.User) error {
	switch {
	case got == nil:
		return errors.New("user is nil")
	case got.ID != want.ID:
		return fmt.Errorf("ID = %q, want %q", got.ID, want.ID)
	case got.Username != want.Username:
		return fmt.Errorf("Username = %q, want %q", got.Username, want.Username)
	case got.Name != want.Name || got.Email != want.Email:
		return fmt.Errorf("Name, Email = %q, %q; want %q, %q", got.Name, got.Email, want.Name, want.Email)
	case got.Role != want.Role || got.Disabled != want.Disabled:
		return fmt.Errorf("Role, Disabled = %q, %v; want %q, %v", got.Role, got.Disabled, want.Role, want.Disabled)
	case got.EmailVerified != want.EmailVerified:
		return fmt.Errorf("EmailVerified = %v, want %v", got.EmailVerified, want.EmailVerified)
	case got.Groups == nil || !slices.Equal(got.Groups, want.Groups):
		return fmt.Errorf("Groups = %#v, want %q (never nil)", got.Groups, want.Groups)
	case got.PasswordHash != want.PasswordHash:
		return fmt.Errorf("PasswordHash = %q, want %q", got.PasswordHash, want.PasswordHash)
	case !got.CreatedAt.Equal(want.CreatedAt):
		return fmt.Errorf("CreatedAt = %v, want %v", got.CreatedAt, want.CreatedAt)
	}
	return nil
}

func mustCreateUser(t *testing.T, s gatehouse.UserStore, u *gatehouse.User) {
	t.Helper()
	if err := s.CreateUser(context.Background(), u); err != nil {
		t.Fatalf("CreateUser(%q): %v", u.Username, err)
	}
}

func mustUserByID(t *testing.T, s gatehouse.UserStore, id string) *gatehouse.User {
	t.Helper()
	u, err := s.UserByID(context.Background(), id)
	if err != nil {
		t.Fatalf("UserByID(%q): %v", id, err)
	}
	return u
}

func testUserCreateLookUp(t *testing.T, s gatehouse.UserStore) {
	ctx := context.Background()
	want := NewTestUser("Alice.Example@Home", userBase)
	want.Role, want.Disabled = gatehouse.RoleAdmin, true
	mustCreateUser(t, s, want)
	if err := SameUser(mustUserByID(t, s, want.ID), want); err != nil {
		t.Errorf("UserByID: %v", err)
	}
	for _, name := range []string{"Alice.Example@Home", "alice.example@home", "ALICE.EXAMPLE@HOME", "aLiCe.ExAmPlE@hOmE"} {
		got, err := s.UserByUsername(ctx, name)
		if err != nil {
			t.Errorf("UserByUsername(%q): %v", name, err)
			continue
		}
		if err := SameUser(got, want); err != nil {
			t.Errorf("UserByUsername(%q): %v (the stored username keeps its case)", name, err)
		}
	}
}

func testUserConflict(t *testing.T, s gatehouse.UserStore) {
	ctx := context.Background()
	mustCreateUser(t, s, NewTestUser("Bob", userBase))
	for _, name := range []string{"Bob", "bob", "BOB"} {
		err := s.CreateUser(ctx, NewTestUser(name, userBase.Add(time.Second)))
		if !errors.Is(err, gatehouse.ErrConflict) {
			t.Errorf("CreateUser(%q) after Bob: %v, want ErrConflict", name, err)
		}
	}
	if n, err := s.CountUsers(ctx); err != nil || n != 1 {
		t.Fatalf("CountUsers = %d, %v; want 1 (conflicts must not store anything)", n, err)
	}
	mustCreateUser(t, s, NewTestUser("bobby", userBase.Add(2*time.Second)))
}

func testUserNotFound(t *testing.T, s gatehouse.UserStore) {
	ctx := context.Background()
	mustCreateUser(t, s, NewTestUser("carol", userBase))
	unknown := gatehouse.NewID(userBase)
	if _, err := s.UserByID(ctx, unknown); !errors.Is(err, gatehouse.ErrNotFound) {
		t.Errorf("UserByID(unknown) = %v, want ErrNotFound", err)
	}
	for _, name := range []string{"carol2", "caro", "", "carol "} {
		if _, err := s.UserByUsername(ctx, name); !errors.Is(err, gatehouse.ErrNotFound) {
			t.Errorf("UserByUsername(%q) = %v, want ErrNotFound", name, err)
		}
	}
	role := gatehouse.RoleAdmin
	if _, err := s.UpdateUser(ctx, unknown, gatehouse.UserUpdate{Role: &role}); !errors.Is(err, gatehouse.ErrNotFound) {
		t.Errorf("UpdateUser(unknown) = %v, want ErrNotFound", err)
	}
	if _, err := s.UpdateUser(ctx, unknown, gatehouse.UserUpdate{}); !errors.Is(err, gatehouse.ErrNotFound) {
		t.Errorf("UpdateUser(unknown, nothing) = %v, want ErrNotFound", err)
	}
	if err := s.DeleteUser(ctx, unknown); !errors.Is(err, gatehouse.ErrNotFound) {
		t.Errorf("DeleteUser(unknown) = %v, want ErrNotFound", err)
	}
}

func testUserListPaging(t *testing.T, s gatehouse.UserStore) {
	ctx := context.Background()
	users := make([]*gatehouse.User, 7)
	for i := range users {
		users[i] = NewTestUser(fmt.Sprintf("user%d", i), userBase.Add(time.Duration(i)*time.Millisecond))
	}
	// Insert in a shuffled order: the list is ordered by id, not by insertion.
	for _, i := range rand.Perm(len(users)) {
		mustCreateUser(t, s, users[i])
	}
	var got []*gatehouse.User
	after := ""
	for page := 0; ; page++ {
		batch, err := s.ListUsers(ctx, after, 3)
		if err != nil {
			t.Fatalf("ListUsers(%q, 3): %v", after, err)
		}
		if len(batch) > 3 || page > len(users) {
			t.Fatalf("page %d has %d users (limit 3)", page, len(batch))
		}
		if len(batch) == 0 {
			break
		}
		got = append(got, batch...)
		after = batch[len(batch)-1].ID
	}
	if len(got) != len(users) {
		t.Fatalf("paging returned %d users, want %d", len(got), len(users))
	}
	for i := range users {
		if err := SameUser(got[i], users[i]); err != nil {
			t.Errorf("user %d: %v", i, err)
		}
	}
	userCheckListEdges(t, s, users)
}

// userCheckListEdges checks a cursor that is not a stored id, and non-positive limits.
func userCheckListEdges(t *testing.T, s gatehouse.UserStore, users []*gatehouse.User) {
	ctx := context.Background()
	// A cursor just above users[2].ID (same prefix, bigger last character) starts at users[3].
	cursor := users[2].ID + "~"
	batch, err := s.ListUsers(ctx, cursor, 2)
	if err != nil || len(batch) != 2 || batch[0].ID != users[3].ID || batch[1].ID != users[4].ID {
		t.Errorf("ListUsers(between 2 and 3, 2) = %d users, %v; want users 3 and 4", len(batch), err)
	}
	all, err := s.ListUsers(ctx, "", 100)
	if err != nil || len(all) != len(users) {
		t.Errorf("ListUsers(\"\", 100) = %d users, %v; want %d", len(all), err, len(users))
	}
	for _, limit := range []int{0, -1} {
		if batch, err := s.ListUsers(ctx, "", limit); err != nil || len(batch) != 0 {
			t.Errorf("ListUsers(\"\", %d) = %d users, %v; want none", limit, len(batch), err)
		}
	}
}

func testUserUpdateFields(t *testing.T, s gatehouse.UserStore) {
	ctx := context.Background()
	want := NewTestUser("dave", userBase)
	mustCreateUser(t, s, want)

	admin, yes, no, hash := gatehouse.RoleAdmin, true, false, "$argon2id$new"
	steps := []struct {
		name  string
		upd   gatehouse.UserUpdate
		apply func(u *gatehouse.User)
	}{
		{"role", gatehouse.UserUpdate{Role: &admin}, func(u *gatehouse.User) { u.Role = admin }},
		{"disable", gatehouse.UserUpdate{Disabled: &yes}, func(u *gatehouse.User) { u.Disabled = true }},
		{"password", gatehouse.UserUpdate{PasswordHash: &hash}, func(u *gatehouse.User) { u.PasswordHash = hash }},
		{"enable", gatehouse.UserUpdate{Disabled: &no}, func(u *gatehouse.User) { u.Disabled = false }},
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
	userCheckUpdateAll(t, s, want)
}

// userCheckUpdateAll changes every field at once.
func userCheckUpdateAll(t *testing.T, s gatehouse.UserStore, want *gatehouse.User) {
	role, disabled, hash := gatehouse.RoleUser, true, "$argon2id$newer"
	got, err := s.UpdateUser(context.Background(), want.ID,
		gatehouse.UserUpdate{Role: &role, Disabled: &disabled, PasswordHash: &hash})
	want.Role, want.Disabled, want.PasswordHash = role, disabled, hash
	if err != nil {
		t.Fatalf("UpdateUser(all): %v", err)
	}
	if err := SameUser(got, want); err != nil {
		t.Errorf("UpdateUser(all): %v", err)
	}
	if err := SameUser(mustUserByID(t, s, want.ID), want); err != nil {
		t.Errorf("after UpdateUser(all), stored: %v", err)
	}
}

func testUserUpdateNothing(t *testing.T, s gatehouse.UserStore) {
	want := NewTestUser("erin", userBase)
	mustCreateUser(t, s, want)
	other := NewTestUser("frank", userBase.Add(time.Millisecond))
	mustCreateUser(t, s, other)
	got, err := s.UpdateUser(context.Background(), want.ID, gatehouse.UserUpdate{})
	if err != nil {
		t.Fatalf("UpdateUser(nothing): %v", err)
	}
	if err := SameUser(got, want); err != nil {
		t.Errorf("UpdateUser(nothing) returned: %v", err)
	}
	admin := gatehouse.RoleAdmin
	if _, err := s.UpdateUser(context.Background(), want.ID, gatehouse.UserUpdate{Role: &admin}); err != nil {
		t.Fatal(err)
	}
	if err := SameUser(mustUserByID(t, s, other.ID), other); err != nil {
		t.Errorf("updating erin changed frank: %v", err)
	}
}

func testUserDelete(t *testing.T, s gatehouse.UserStore) {
	ctx := context.Background()
	gone, kept := NewTestUser("Grace", userBase), NewTestUser("heidi", userBase.Add(time.Millisecond))
	mustCreateUser(t, s, gone)
	mustCreateUser(t, s, kept)
	if err := s.DeleteUser(ctx, gone.ID); err != nil {
		t.Fatalf("DeleteUser: %v", err)
	}
	if _, err := s.UserByID(ctx, gone.ID); !errors.Is(err, gatehouse.ErrNotFound) {
		t.Errorf("UserByID(deleted) = %v, want ErrNotFound", err)
	}
	if _, err := s.UserByUsername(ctx, "grace"); !errors.Is(err, gatehouse.ErrNotFound) {
		t.Errorf("UserByUsername(deleted) = %v, want ErrNotFound", err)
	}
	if err := s.DeleteUser(ctx, gone.ID); !errors.Is(err, gatehouse.ErrNotFound) {
		t.Errorf("DeleteUser(deleted) = %v, want ErrNotFound", err)
	}
	if err := SameUser(mustUserByID(t, s, kept.ID), kept); err != nil {
		t.Errorf("the other user: %v", err)
	}
	// The username is free again.
	mustCreateUser(t, s, NewTestUser("GRACE", userBase.Add(time.Second)))
}

func testUserCount(t *testing.T, s gatehouse.UserStore) {
	ctx := context.Background()
	count := func(want int) {
		t.Helper()
		if n, err := s.CountUsers(ctx); err != nil || n != want {
			t.Fatalf("CountUsers = %d, %v; want %d", n, err, want)
		}
	}
	count(0)
	users := []*gatehouse.User{NewTestUser("ivan", userBase), NewTestUser("judy", userBase.Add(time.Millisecond))}
	for i, u := range users {
		mustCreateUser(t, s, u)
		count(i + 1)
	}
	if err := s.DeleteUser(ctx, users[0].ID); err != nil {
		t.Fatal(err)
	}
	count(1)
}

// testUserCopies checks that the store shares no memory with its callers.
func testUserCopies(t *testing.T, s gatehouse.UserStore) {
	ctx := context.Background()
	in := NewTestUser("mallory", userBase)
	want := *in
	mustCreateUser(t, s, in)
	in.Username, in.Role, in.PasswordHash = "changed", gatehouse.RoleAdmin, "changed"

	got := mustUserByID(t, s, want.ID)
	if err := SameUser(got, &want); err != nil {
		t.Fatalf("changing the created value changed the store: %v", err)
	}
	got.Role, got.Disabled, got.PasswordHash = gatehouse.RoleAdmin, true, "changed"
	byName, err := s.UserByUsername(ctx, "mallory")
	if err != nil {
		t.Fatal(err)
	}
	byName.Name = "changed"
	list, err := s.ListUsers(ctx, "", 10)
	if err != nil || len(list) != 1 {
		t.Fatalf("ListUsers = %d, %v", len(list), err)
	}
	list[0].Email = "changed"
	disabled := false
	upd, err := s.UpdateUser(ctx, want.ID, gatehouse.UserUpdate{Disabled: &disabled})
	if err != nil {
		t.Fatal(err)
	}
	upd.Username = "changed"
	if err := SameUser(mustUserByID(t, s, want.ID), &want); err != nil {
		t.Fatalf("changing returned values changed the store: %v", err)
	}
}
