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
		!got.CreatedAt.Equal(want.CreatedAt) || got.SecretHash != want.SecretHash {
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
