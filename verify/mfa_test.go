package verify_test

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/gatehouse-auth/gatehouse"
	"github.com/gatehouse-auth/gatehouse/token"
	"github.com/gatehouse-auth/gatehouse/verify"
)

// TestRequireMFA: a token whose sign-in used two factors passes RequireMFA, and the handler
// sees how the user signed in; a password-only token, or one issued before the methods were
// recorded, gets 401 insufficient_user_authentication with the RFC 9470 challenge.
func TestRequireMFA(t *testing.T) {
	clk := newClock()
	g := newGatehouse(t, "EdDSA", clk)
	u := g.addUser("alice", gatehouse.RoleUser)
	v := newVerifier(t, g, nil)
	// The server's own token service: tokens exactly as a sign-in with those methods gets them.
	tokens, err := token.NewService(g.keys, token.Config{Issuer: g.srv.URL, Audience: audience, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	issue := func(amr gatehouse.AuthMethods) string {
		tok, _, err := tokens.IssueFor(u, amr, "", clk.Now())
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	h := v.Middleware(verify.RequireMFA(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t, _ := verify.FromContext(r.Context())
		json.NewEncoder(w).Encode(map[string]any{"amr": t.AMR.AMR(), "acr": t.AMR.ACR()})
	})))
	for _, amr := range []gatehouse.AuthMethods{
		gatehouse.MethodPassword | gatehouse.MethodOTP,
		gatehouse.MethodPassword | gatehouse.MethodHardwareKey,
		gatehouse.MethodSoftwareKey | gatehouse.MethodUserVerified,
	} {
		status, out, _ := serveTo(h, "Bearer "+issue(amr))
		got, _ := out["amr"].([]any)
		if status != 200 || out["acr"] != "aal2" || len(got) == 0 || got[len(got)-1] != "mfa" {
			t.Fatalf("%q: %d %v", amr.AMR(), status, out)
		}
	}
	// The login answer of a password sign-in, and tokens with one factor or none recorded.
	for name, tok := range map[string]string{
		"password login": g.login("alice", password),
		"password":       issue(gatehouse.MethodPassword),
		"a key alone":    issue(gatehouse.MethodHardwareKey),
		"none recorded":  issue(0),
	} {
		status, out, hdr := serveTo(h, "Bearer "+tok)
		if status != 401 || out["error"] != "insufficient_user_authentication" {
			t.Fatalf("%s: %d %v", name, status, out)
		}
		if c := hdr.Get("WWW-Authenticate"); !strings.Contains(c, `error="insufficient_user_authentication"`) || !strings.Contains(c, `acr_values="aal2"`) {
			t.Fatalf("%s: WWW-Authenticate %q", name, c)
		}
	}
	// Without the middleware in front, nobody gets through.
	if status, out, _ := serveTo(verify.RequireMFA(http.NotFoundHandler()), "Bearer "+issue(gatehouse.MethodPassword|gatehouse.MethodOTP)); status != 401 || out["error"] != "token_missing" {
		t.Fatalf("without Middleware: %d %v", status, out)
	}
	// Verify itself exposes the methods to code that does not use the middleware.
	tok, err := v.Verify(issue(gatehouse.MethodPassword | gatehouse.MethodOTP))
	if err != nil || !slices.Equal(tok.AMR.AMR(), []string{"pwd", "otp", "mfa"}) {
		t.Fatalf("Verify: %v %v", tok, err)
	}
}
