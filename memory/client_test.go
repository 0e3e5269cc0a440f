package memory_test

import (
	"testing"

	"github.com/gatehouse-auth/gatehouse"
	"github.com/gatehouse-auth/gatehouse/internal/storetest"
	"github.com/gatehouse-auth/gatehouse/memory"
)

func TestClientStore(t *testing.T) {
	storetest.TestClientStore(t, func(t *testing.T) gatehouse.ClientStore { return memory.NewClientStore() })
}

func TestGrantStore(t *testing.T) {
	storetest.TestGrantStore(t, func(t *testing.T) storetest.GrantStores {
		return storetest.GrantStores{Grants: memory.NewGrantStore(), Users: memory.NewUserStore(), Clients: memory.NewClientStore()}
	})
}
