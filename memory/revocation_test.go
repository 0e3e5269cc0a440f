package memory_test

import (
	"context"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse"
	"github.com/gatehouse-auth/gatehouse/internal/storetest"
	"github.com/gatehouse-auth/gatehouse/memory"
)

func TestRevocationStore(t *testing.T) {
	storetest.TestRevocationStore(t, func(*testing.T) gatehouse.RevocationStore { return memory.NewRevocationStore() })
}

// TestRevokeTokenNeverShortens checks that revoking again keeps the later expiry.
func TestRevokeTokenNeverShortens(t *testing.T) {
	ctx := context.Background()
	st := memory.NewRevocationStore()
	now := time.Now()
	st.RevokeToken(ctx, "jti", now.Add(time.Hour))
	st.RevokeToken(ctx, "jti", now.Add(time.Minute))
	tokens, _, err := st.ListRevocations(ctx, now)
	if err != nil || !tokens["jti"].Equal(now.Add(time.Hour)) {
		t.Fatalf("tokens = %v, %v; want the later expiry kept", tokens, err)
	}
}
