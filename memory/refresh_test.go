package memory_test

import (
	"testing"

	"github.com/gatehouse-auth/gatehouse"
	"github.com/gatehouse-auth/gatehouse/internal/storetest"
	"github.com/gatehouse-auth/gatehouse/memory"
)

func TestRefreshStore(t *testing.T) {
	storetest.TestRefreshStore(t, func(t *testing.T) gatehouse.RefreshStore { return memory.NewRefreshStore() })
}
