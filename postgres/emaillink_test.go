package postgres_test

import (
	"testing"

	"github.com/gatehouse-auth/gatehouse"
	"github.com/gatehouse-auth/gatehouse/internal/storetest"
	"github.com/gatehouse-auth/gatehouse/postgres"
)

func TestEmailLinkStore(t *testing.T) {
	t.Parallel()
	storetest.TestEmailLinkStore(t, func(t *testing.T) gatehouse.EmailLinkStore {
		return postgres.NewEmailLinkStore(MustOpen(t, slowPG))
	})
}
