package gatehouse_test

import (
	"context"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse"
	"github.com/gatehouse-auth/gatehouse/internal/testkit"
	"github.com/gatehouse-auth/gatehouse/memory"
)

// TestAccessTokenRevoked: a token is revoked by its jti, by its refresh family's denial, or by
// a not-before time after its issue stamp, and by nothing else.
func TestAccessTokenRevoked(t *testing.T) {
	ctx := context.Background()
	now := testkit.NewClock().Now().Truncate(gatehouse.StampPrecision)
	revs := memory.NewRevocationStore()
	tok := func(id, user string, issued time.Time) *gatehouse.Token {
		return &gatehouse.Token{ID: id, Principal: gatehouse.Principal{UserID: user}, IssuedAt: issued, ExpiresAt: issued.Add(time.Hour)}
	}
	if err := revs.RevokeToken(ctx, "denied", now.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := revs.SetNotBefore(ctx, "bob", now); err != nil {
		t.Fatal(err)
	}
	if err := gatehouse.RevokeFamilyTokens(ctx, revs, "fam-dead", now.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	inFamily := func(fam string, tk *gatehouse.Token) *gatehouse.Token { tk.Family = fam; return tk }
	for _, c := range []struct {
		name string
		t    *gatehouse.Token
		want bool
	}{
		{"plain", tok("a", "alice", now.Add(-time.Minute)), false},
		{"jti denied", tok("denied", "alice", now), true},
		{"issued before not-before", tok("b", "bob", now.Add(-gatehouse.StampPrecision)), true},
		{"issued at not-before", tok("c", "bob", now), false},
		{"family denied", inFamily("fam-dead", tok("d", "alice", now)), true},
		{"other family", inFamily("fam-live", tok("e", "alice", now)), false},
		{"family id used as jti elsewhere does not leak", tok("fam-live", "alice", now), false},
	} {
		got, err := gatehouse.AccessTokenRevoked(ctx, revs, c.t)
		if err != nil || got != c.want {
			t.Errorf("%s: AccessTokenRevoked = %v, %v; want %v", c.name, got, err, c.want)
		}
	}
}
