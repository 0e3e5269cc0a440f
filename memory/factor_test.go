package memory_test

import (
	"testing"

	"github.com/gatehouse-auth/gatehouse"
	"github.com/gatehouse-auth/gatehouse/internal/storetest"
	"github.com/gatehouse-auth/gatehouse/memory"
)

func TestFactorStore(t *testing.T) {
	storetest.TestFactorStore(t, func(t *testing.T) storetest.FactorStores {
		return storetest.FactorStores{Factors: memory.NewFactorStore(), Users: memory.NewUserStore()}
	})
}

func TestChallengeStore(t *testing.T) {
	storetest.TestChallengeStore(t, func(t *testing.T) gatehouse.ChallengeStore { return memory.NewChallengeStore() })
}
