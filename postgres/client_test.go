package postgres_test

import (
	"testing"

	"github.com/gatehouse-auth/gatehouse"
	"github.com/gatehouse-auth/gatehouse/internal/storetest"
	"github.com/gatehouse-auth/gatehouse/postgres"
)

func TestClientStore(t *testing.T) {
	t.Parallel()
	storetest.TestClientStore(t, func(t *testing.T) gatehouse.ClientStore {
		return postgres.NewClientStore(MustOpen(t, slowPG))
	})
}

func TestGrantStore(t *testing.T) {
	t.Parallel()
	storetest.TestGrantStore(t, func(t *testing.T) storetest.GrantStores {
		db := MustOpen(t, slowPG)
		return storetest.GrantStores{Grants: postgres.NewGrantStore(db), Users: postgres.NewUserStore(db), Clients: postgres.NewClientStore(db)}
	})
}
