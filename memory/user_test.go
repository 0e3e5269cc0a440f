package memory_test

import (
	"testing"

	"github.com/gatehouse-auth/gatehouse"
	"github.com/gatehouse-auth/gatehouse/internal/storetest"
	"github.com/gatehouse-auth/gatehouse/memory"
)

func TestUserStore(t *testing.T) {
	storetest.TestUserStore(t, func(t *testing.T) gatehouse.UserStore { return memory.NewUserStore() })
}
