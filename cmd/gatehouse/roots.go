package main

// The container image is FROM scratch: it has no CA bundle. These roots (Mozilla's, as Go
// ships them) are used only when the system has none, so that TLS to Redis, PostgreSQL or an
// identity provider works in the image as on a host; a host's own bundle, or SSL_CERT_FILE,
// still wins.
import _ "golang.org/x/crypto/x509roots/fallback"
