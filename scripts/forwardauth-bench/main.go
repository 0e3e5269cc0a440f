// Command forwardauth-bench serves the two small servers of scripts/forward-auth-bench.sh:
//
//	forwardauth-bench app ADDR    the app behind the proxy: echoes the identity headers it got
//	forwardauth-bench floor ADDR  a bare net/http server that answers 200 with three headers,
//	                              the floor the forward-auth endpoint is compared with
package main

import (
	"fmt"
	"net/http"
	"os"
)

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: forwardauth-bench app|floor ADDR")
		os.Exit(2)
	}
	var h http.HandlerFunc
	switch os.Args[1] {
	case "app":
		h = func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/plain")
			fmt.Fprintf(w, "user=%s groups=%s\n", r.Header.Get("Remote-User"), r.Header.Get("Remote-Groups"))
		}
	case "floor":
		h = func(w http.ResponseWriter, r *http.Request) {
			hd := w.Header()
			hd["Cache-Control"] = []string{"no-store"}
			hd["Remote-User"] = []string{"bench"}
			hd["Remote-Groups"] = []string{"user"}
			w.WriteHeader(http.StatusOK)
		}
	default:
		fmt.Fprintln(os.Stderr, "usage: forwardauth-bench app|floor ADDR")
		os.Exit(2)
	}
	if err := http.ListenAndServe(os.Args[2], h); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
