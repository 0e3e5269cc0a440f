// Package fuzzhttp holds the fuzz targets of the HTTP API (bearer tokens in the Authorization
// header, session cookies, every JSON request body, X-Forwarded-For), driven through the real
// handler stack on in-memory stores.
//
// They live apart from package http's tests because those link SQLite: under "go test -fuzz"
// every linked package is instrumented for coverage, and instrumenting modernc.org/sqlite makes
// each execution about a thousand times slower. The stores are not what is fuzzed here; the
// parsing and the handlers in front of them are.
package fuzzhttp
