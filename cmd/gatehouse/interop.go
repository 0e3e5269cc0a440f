package main

import (
	"fmt"

	"github.com/spf13/pflag"

	ghttp "github.com/gatehouse-auth/gatehouse/http"
)

// interopConfig holds the settings of token interoperability: the resource-server credential of
// introspection and the revocation stream.
type interopConfig struct {
	IntrospectionClientID string
	IntrospectionSecret   string
}

// minIntrospectionSecret is the shortest accepted --introspection-secret, in bytes.
const minIntrospectionSecret = 32

func (c *config) interopFlags(fs *pflag.FlagSet) {
	fs.StringVar(&c.IntrospectionClientID, "introspection-client-id", ghttp.DefaultIntrospectionClientID,
		"client id of resource servers (HTTP Basic) at POST /oauth2/introspect and GET /api/revocations/stream")
	fs.StringVar(&c.IntrospectionSecret, "introspection-secret", "",
		"client secret of resource servers, at least 32 bytes (default: none; then only an admin's bearer token is accepted there)")
}

func (c *config) validateInterop() error {
	if c.IntrospectionSecret != "" && len(c.IntrospectionSecret) < minIntrospectionSecret {
		return fmt.Errorf("--introspection-secret must be at least %d bytes", minIntrospectionSecret)
	}
	if c.IntrospectionClientID == "" {
		return fmt.Errorf("--introspection-client-id must not be empty")
	}
	return nil
}

// interopServerConfig copies the interoperability settings into the HTTP server's configuration.
func (c *config) interopServerConfig(sc *ghttp.Config) {
	sc.IntrospectionClientID = c.IntrospectionClientID
	sc.IntrospectionSecret = c.IntrospectionSecret
}
