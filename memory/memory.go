// Package memory implements gatehouse's session, refresh-token and revocation stores in the
// memory of one process. Everything is lost when the process stops, and nothing is shared
// with other instances: it suits a single instance that accepts that, and tests.
package memory
