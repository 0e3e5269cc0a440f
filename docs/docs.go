// Package docs holds gatehouse's documentation. Its one piece of Go is the API contract,
// embedded so that the server can serve it at /openapi.yaml and the tests can check every
// exchange against it.
package docs

import _ "embed"

// OpenAPI is the OpenAPI 3.1 document of the HTTP API (docs/openapi.yaml).
//
//go:embed openapi.yaml
var OpenAPI []byte
