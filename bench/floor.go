package bench

import "net/http"

// FloorHandler is the floor of the measurements: a bare net/http handler that answers "hello"
// on every path (the same as scripts/hello).
func FloorHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		w.Write([]byte("hello\n"))
	})
}
