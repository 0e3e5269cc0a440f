package sqlite_test

import (
	"testing"

	"github.com/gatehouse-auth/gatehouse"
	"github.com/gatehouse-auth/gatehouse/internal/storetest"
	"github.com/gatehouse-auth/gatehouse/sqlite"
)

func TestEmailLinkStore(t *testing.T) {
	storetest.TestEmailLinkStore(t, func(t *testing.T) gatehouse.EmailLinkStore {
		return sqlite.NewEmailLinkStore(MustOpen(t))
	})
}
