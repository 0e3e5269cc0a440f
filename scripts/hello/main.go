// Command hello is the floor of the end-to-end benchmarks: a bare net/http handler that
// answers "hello" on every path, with the same server timeouts as gatehouse.
package main

import (
	"flag"
	"log"
	"net/http"
	"time"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8081", "listen address")
	flag.Parse()
	srv := &http.Server{
		Addr:              *addr,
		ReadHeaderTimeout: 5 * time.Second,
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/plain")
			w.Write([]byte("hello\n"))
		}),
	}
	log.Fatal(srv.ListenAndServe())
}
