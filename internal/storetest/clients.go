package storetest

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse"
)

// TestClientStore runs the gatehouse.ClientStore contract. newStore must return an empty store
// for each subtest.
func TestClientStore(t *testing.T, newStore func(t *testing.T) gatehouse.ClientStore) {
	tests := []struct {
		name string
		fn   func(*testing.T, gatehouse.ClientStore)
	}{
		{"RoundTripConfidential", testClientConfidential},
		{"RoundTripPublic", testClientPublic},
		{"DuplicateIDConflicts", testClientConflict},
		{"UnknownIsNotFound", testClientNotFound},
		{"ListPages", testClientList},
		{"Delete", testClientDelete},
		{"CopiesNotShared", testClientCopies},
		{"Update", testClientUpdate},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.fn(t, newStore(t))
		})
	}
}

// NewTestClient returns a valid client, confidential unless public, and its secret ("" for a
// public client).
func NewTestClient(t testing.TB, name string, public bool) (*gatehouse.Client, string) {
	t.Helper()
	c, secret, err := gatehouse.NewClient(gatehouse.ClientSpec{Name: name, Public: public,
		RedirectURIs: []string{"https://" + name + ".example/callback", "http://127.0.0.1/cb"},
		Scopes:       []string{gatehouse.ScopeOpenID, gatehouse.ScopeEmail}}, time.Now().Truncate(time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	return c, secret
}

func mustCreateClient(t *testing.T, s gatehouse.ClientStore, c *gatehouse.Client) {
	t.Helper()
	if err := s.CreateClient(context.Background(), c); err != nil {
		t.Fatalf("CreateClient(%s): %v", c.Name, err)
	}
}

func mustClient(t *testing.T, s gatehouse.ClientStore, id string) *gatehouse.Client {
	t.Helper()
	c, err := s.ClientByID(context.Background(), id)
	if err != nil {
		t.Fatalf("ClientByID(%s): %v", id, err)
	}
	return c
}

func sameClient(t *testing.T, got, want *gatehouse.Client) {
	t.Helper()
	if got.ID != want.ID || got.Name != want.Name || got.Public != want.Public || got.FirstParty != want.FirstParty ||
		!slices.Equal(got.RedirectURIs, want.RedirectURIs) || !slices.Equal(got.Scopes, want.Scopes) ||
		!got.CreatedAt.Equal(want.CreatedAt) || got.SecretHash != want.SecretHash ||
		!slices.Equal(got.PostLogoutRedirectURIs, want.PostLogoutRedirectURIs) ||
		got.BackchannelLogoutURI != want.BackchannelLogoutURI || got.IDTokenAlg != want.IDTokenAlg {
		t.Fatalf("stored client = %+v, want %+v", got, want)
	}
}

func testClientConfidential(t *testing.T, s gatehouse.ClientStore) {
	c, secret := NewTestClient(t, "wiki", false)
	c.FirstParty = true
	mustCreateClient(t, s, c)
	got := mustClient(t, s, c.ID)
	sameClient(t, got, c)
	if !got.VerifySecret(secret) {
		t.Fatal("the stored client does not accept its secret")
	}
	wrong := secret[:len(secret)-1] + "A"
	if wrong == secret {
		wrong = secret[:len(secret)-1] + "Q"
	}
	if got.VerifySecret(wrong) || got.VerifySecret("") {
		t.Fatal("the stored client accepts a wrong secret")
	}
}

func testClientPublic(t *testing.T, s gatehouse.ClientStore) {
	c, secret := NewTestClient(t, "cli", true)
	if secret != "" {
		t.Fatal("a public client got a secret")
	}
	mustCreateClient(t, s, c)
	got := mustClient(t, s, c.ID)
	sameClient(t, got, c)
	if got.SecretHash != (gatehouse.Hash{}) || got.VerifySecret("") {
		t.Fatal("a public client has a secret")
	}
}

func testClientConflict(t *testing.T, s gatehouse.ClientStore) {
	c, _ := NewTestClient(t, "one", false)
	mustCreateClient(t, s, c)
	dup, _ := NewTestClient(t, "two", false)
	dup.ID = c.ID
	if err := s.CreateClient(context.Background(), dup); !errors.Is(err, gatehouse.ErrConflict) {
		t.Fatalf("CreateClient with a taken id = %v, want ErrConflict", err)
	}
	sameClient(t, mustClient(t, s, c.ID), c)
}

func testClientNotFound(t *testing.T, s gatehouse.ClientStore) {
	ctx := context.Background()
	id := gatehouse.NewID(time.Now())
	if _, err := s.ClientByID(ctx, id); !errors.Is(err, gatehouse.ErrNotFound) {
		t.Fatalf("ClientByID(unknown) = %v, want ErrNotFound", err)
	}
	if err := s.DeleteClient(ctx, id); !errors.Is(err, gatehouse.ErrNotFound) {
		t.Fatalf("DeleteClient(unknown) = %v, want ErrNotFound", err)
	}
}

func testClientList(t *testing.T, s gatehouse.ClientStore) {
	ctx := context.Background()
	var ids []string
	for _, name := range []string{"a", "b", "c", "d", "e"} {
		c, _ := NewTestClient(t, name, name == "c")
		mustCreateClient(t, s, c)
		ids = append(ids, c.ID)
	}
	slices.Sort(ids)
	var got []string
	after := ""
	for range 4 {
		page, err := s.ListClients(ctx, after, 2)
		if err != nil {
			t.Fatal(err)
		}
		if len(page) == 0 {
			break
		}
		for _, c := range page {
			got = append(got, c.ID)
		}
		after = page[len(page)-1].ID
	}
	if !slices.Equal(got, ids) {
		t.Fatalf("paged ids = %v, want %v", got, ids)
	}
	if page, err := s.ListClients(ctx, "", 0); err != nil || len(page) != 0 {
		t.Fatalf("ListClients(limit 0) = %v, %v", page, err)
	}
}

func testClientDelete(t *testing.T, s gatehouse.ClientStore) {
	ctx := context.Background()
	c, _ := NewTestClient(t, "gone", false)
	keep, _ := NewTestClient(t, "kept", false)
	mustCreateClient(t, s, c)
	mustCreateClient(t, s, keep)
	if err := s.DeleteClient(ctx, c.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ClientByID(ctx, c.ID); !errors.Is(err, gatehouse.ErrNotFound) {
		t.Fatalf("ClientByID after delete = %v, want ErrNotFound", err)
	}
	if err := s.DeleteClient(ctx, c.ID); !errors.Is(err, gatehouse.ErrNotFound) {
		t.Fatalf("second DeleteClient = %v, want ErrNotFound", err)
	}
	sameClient(t, mustClient(t, s, keep.ID), keep)
}

func testClientCopies(t *testing.T, s gatehouse.ClientStore) {
	c, _ := NewTestClient(t, "copy", false)
	want := *c
	want.RedirectURIs = slices.Clone(c.RedirectURIs)
	mustCreateClient(t, s, c)
	c.RedirectURIs[0] = "https://evil.example/cb"
	got := mustClient(t, s, c.ID)
	got.RedirectURIs[0] = "https://evil.example/cb"
	sameClient(t, mustClient(t, s, c.ID), &want)
}

func testClientUpdate(t *testing.T, s gatehouse.ClientStore) {
	ctx := context.Background()
	c, _ := NewTestClient(t, "upd", false)
	mustCreateClient(t, s, c)
	want := *c
	want.Name, want.FirstParty, want.Scopes = "renamed", true, []string{gatehouse.ScopeOpenID}
	want.RedirectURIs = []string{"https://upd.example/other"}
	want.PostLogoutRedirectURIs = []string{"https://upd.example/bye"}
	want.BackchannelLogoutURI, want.IDTokenAlg = "https://upd.example/bcl", "RS256"
	want.SecretHash = gatehouse.HashSecret(gatehouse.NewSecret())
	upd := want
	upd.CreatedAt = c.CreatedAt.Add(time.Hour) // ignored: the creation time stays
	if err := s.UpdateClient(ctx, &upd); err != nil {
		t.Fatal(err)
	}
	sameClient(t, mustClient(t, s, c.ID), &want)
	gone := want
	gone.ID = gatehouse.NewID(time.Now())
	if err := s.UpdateClient(ctx, &gone); !errors.Is(err, gatehouse.ErrNotFound) {
		t.Fatalf("UpdateClient(unknown) = %v, want ErrNotFound", err)
	}
}

// GrantStores are the stores the grant contract needs: grants refer to users and clients.
type GrantStores struct {
	Grants  gatehouse.GrantStore
	Users   gatehouse.UserStore
	Clients gatehouse.ClientStore
}

// TestGrantStore runs the gatehouse.GrantStore contract. newStores must return empty stores
// for each subtest.
func TestGrantStore(t *testing.T, newStores func(t *testing.T) GrantStores) {
	t.Run("SaveWidenListDelete", func(t *testing.T) {
		t.Parallel()
		s := newStores(t)
		ctx := context.Background()
		now := time.Now().UTC().Truncate(time.Millisecond)
		u := NewTestUser("granter", now)
		mustCreateUser(t, s.Users, u)
		a, _ := NewTestClient(t, "a", false)
		b, _ := NewTestClient(t, "b", true)
		mustCreateClient(t, s.Clients, a)
		mustCreateClient(t, s.Clients, b)
		if _, found, err := s.Grants.Grant(ctx, u.ID, a.ID); found || err != nil {
			t.Fatalf("Grant before any = %v, %v", found, err)
		}
		g := &gatehouse.Grant{UserID: u.ID, ClientID: a.ID, Scopes: []string{"openid"}, CreatedAt: now, UpdatedAt: now}
		if err := s.Grants.SaveGrant(ctx, g); err != nil {
			t.Fatal(err)
		}
		later := now.Add(time.Minute)
		wide := &gatehouse.Grant{UserID: u.ID, ClientID: a.ID, Scopes: []string{"openid", "email"}, CreatedAt: later, UpdatedAt: later}
		if err := s.Grants.SaveGrant(ctx, wide); err != nil {
			t.Fatal(err)
		}
		got, found, err := s.Grants.Grant(ctx, u.ID, a.ID)
		if err != nil || !found || !slices.Equal(got.Scopes, wide.Scopes) || !got.CreatedAt.Equal(now) || !got.UpdatedAt.Equal(later) {
			t.Fatalf("widened grant = %+v, %v, %v", got, found, err)
		}
		if err := s.Grants.SaveGrant(ctx, &gatehouse.Grant{UserID: u.ID, ClientID: b.ID, Scopes: []string{"openid"}, CreatedAt: now, UpdatedAt: now}); err != nil {
			t.Fatal(err)
		}
		list, err := s.Grants.ListGrants(ctx, u.ID)
		if err != nil || len(list) != 2 || list[0].ClientID > list[1].ClientID {
			t.Fatalf("ListGrants = %+v, %v", list, err)
		}
		if found, err := s.Grants.DeleteGrant(ctx, u.ID, a.ID); !found || err != nil {
			t.Fatalf("DeleteGrant = %v, %v", found, err)
		}
		if found, err := s.Grants.DeleteGrant(ctx, u.ID, a.ID); found || err != nil {
			t.Fatalf("second DeleteGrant = %v, %v", found, err)
		}
		if list, err := s.Grants.ListGrants(ctx, u.ID); err != nil || len(list) != 1 || list[0].ClientID != b.ID {
			t.Fatalf("ListGrants after delete = %+v, %v", list, err)
		}
		if list, err := s.Grants.ListGrants(ctx, gatehouse.NewID(now)); err != nil || len(list) != 0 {
			t.Fatalf("ListGrants of a stranger = %+v, %v", list, err)
		}
	})
}
