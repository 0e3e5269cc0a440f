package main

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
)

// startEvilSite serves, on another port of 127.0.0.1 (another origin, the same site), a page
// whose buttons post forms to gatehouse at base, as a cross-site request forgery would.
func startEvilSite(t *testing.T, base string) string {
	t.Helper()
	page := fmt.Sprintf(`<!doctype html><title>Win a prize</title>
<form method="post" action="%[1]s/account/signout-everywhere"><button id="signout-everywhere">Win a prize</button></form>
<form method="post" action="%[1]s/shop/cart/add"><input type="hidden" name="product" value="padlock"><button id="add-to-cart">Free padlock</button></form>
<form method="post" action="%[1]s/account/password"><input type="hidden" name="current_password" value="guess guess guess">
<input type="hidden" name="new_password" value="attacker's new password"><input type="hidden" name="confirm_password" value="attacker's new password">
<button id="change-password">Claim</button></form>`, base)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Write([]byte(page))
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}
