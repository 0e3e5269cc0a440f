package memory_test

import (
	"testing"

	"github.com/gatehouse-auth/gatehouse"
	"github.com/gatehouse-auth/gatehouse/internal/storetest"
	"github.com/gatehouse-auth/gatehouse/memory"
)

func TestSessionStore(t *testing.T) {
	storetest.TestSessionStore(t, func(*testing.T) gatehouse.SessionStore { return memory.NewSessionStore() })
}
