package http_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"

	"github.com/gatehouse-auth/gatehouse"
)

// The user's groups reach the access token ("groups" claim) and GET /api/me, for tokens and
// for sessions; a user without groups has an empty list in /api/me and no claim.
func TestGroupsInTokensAndMe(t *testing.T) {
	h := newHarness(t, options{})
	u := h.addUser("gina", gatehouse.RoleUser)
	groups := []string{"finance", "ops"}
	if _, err := h.users.UpdateUser(context.Background(), u.ID, gatehouse.UserUpdate{Groups: &groups}); err != nil {
		t.Fatal(err)
	}
	access, _ := h.loginToken("gina", testPassword)
	if got := claims(t, access)["groups"]; len(got.([]any)) != 2 {
		t.Fatalf("groups claim = %v", got)
	}
	for _, auth := range [][]string{bearer(access), cookie(h.loginSession("gina", testPassword))} {
		me := h.do("GET", "/api/me", nil, auth...)
		expect(t, me, 200, "")
		user := me.body["user"].(map[string]any)
		if g, _ := user["groups"].([]any); len(g) != 2 || g[0] != "finance" || user["email_verified"] != false {
			t.Fatalf("me = %s", me.raw)
		}
	}
	admin, _ := h.loginToken("admin", h.adminPW)
	if _, ok := claims(t, admin)["groups"]; ok {
		t.Fatal("a groups claim for a user without groups")
	}
	me := h.do("GET", "/api/me", nil, bearer(admin)...)
	if g, ok := me.body["user"].(map[string]any)["groups"].([]any); !ok || len(g) != 0 {
		t.Fatalf("me of a user without groups = %s", me.raw)
	}
}

func claims(t *testing.T, tok string) map[string]any {
	t.Helper()
	raw, err := base64.RawURLEncoding.DecodeString(strings.Split(tok, ".")[1])
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	return m
}
