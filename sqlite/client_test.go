package sqlite_test

import (
	"testing"

	"github.com/gatehouse-auth/gatehouse"
	"github.com/gatehouse-auth/gatehouse/internal/storetest"
	"github.com/gatehouse-auth/gatehouse/sqlite"
)

func TestClientStore(t *testing.T) {
	storetest.TestClientStore(t, func(t *testing.T) gatehouse.ClientStore { return sqlite.NewClientStore(MustOpen(t)) })
}

func TestGrantStore(t *testing.T) {
	storetest.TestGrantStore(t, func(t *testing.T) storetest.GrantStores {
		db := MustOpen(t)
		return storetest.GrantStores{Grants: sqlite.NewGrantStore(db), Users: sqlite.NewUserStore(db), Clients: sqlite.NewClientStore(db)}
	})
}
