package memory_test

import (
	"testing"

	"github.com/gatehouse-auth/gatehouse"
	"github.com/gatehouse-auth/gatehouse/internal/storetest"
	"github.com/gatehouse-auth/gatehouse/memory"
)

func TestEmailLinkStore(t *testing.T) {
	storetest.TestEmailLinkStore(t, func(*testing.T) gatehouse.EmailLinkStore { return memory.NewEmailLinkStore() })
}
