// Command verify-service is a service of your own that accepts gatehouse access tokens: it
// verifies them locally (keys from gatehouse's JWKS) and follows gatehouse's revocations.
//
//	GATEHOUSE_INTROSPECTION_SECRET=... go run ./examples/verify-service
//	curl -H "Authorization: Bearer $TOKEN" 127.0.0.1:9090/hello
package main

import (
	"context"
	"fmt"
	"log"
	"net/http"
	"os"

	"github.com/gatehouse-auth/gatehouse"
	"github.com/gatehouse-auth/gatehouse/verify"
)

func main() {
	cfg := verify.Config{Issuer: "http://127.0.0.1:8080", Audience: "gatehouse"}
	if secret := os.Getenv("GATEHOUSE_INTROSPECTION_SECRET"); secret != "" {
		cfg.Revocations = &verify.RevocationConfig{ClientID: "resource-server", ClientSecret: secret}
	}
	v, err := verify.New(context.Background(), cfg)
	if err != nil {
		log.Fatal(err)
	}
	defer v.Close()
	hello := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t, _ := verify.FromContext(r.Context())
		fmt.Fprintf(w, "hello %s (%s)\n", t.Username, t.Role)
	})
	mux := http.NewServeMux()
	mux.Handle("GET /hello", v.Middleware(hello))
	mux.Handle("GET /admin", v.Middleware(verify.RequireRole(gatehouse.RoleAdmin)(hello)))
	log.Fatal(http.ListenAndServe("127.0.0.1:9090", mux))
}
