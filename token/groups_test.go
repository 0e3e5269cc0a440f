package token

import (
	"reflect"
	"slices"
	"testing"

	"github.com/gatehouse-auth/gatehouse"
)

func TestIssueForCarriesGroups(t *testing.T) {
	clock := newTestClock()
	ks := mustKeySet(t, AlgEdDSA, clock)
	s := mustService(t, ks, clock, nil)
	u := &gatehouse.User{ID: testPrincipal.UserID, Username: testPrincipal.Username, Name: testPrincipal.Name,
		Email: testPrincipal.Email, Role: testPrincipal.Role, Groups: []string{"finance", "ops"}}
	tok, issued, err := s.IssueFor(u, 0, "fam1", clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	if got := decodeSegment(t, tok, 1)["groups"]; len(got.([]any)) != 2 {
		t.Fatalf("groups claim = %v", got)
	}
	got, err := s.Verify(tok)
	if err != nil {
		t.Fatal(err)
	}
	want := testPrincipal
	want.Groups = []string{"finance", "ops"}
	if !reflect.DeepEqual(got.Principal, want) || !slices.Equal(got.Groups, u.Groups) || !slices.Equal(issued.Groups, u.Groups) {
		t.Fatalf("Verify = %+v, issued %+v", got, issued)
	}
	// Changing the user afterwards does not change what was issued.
	u.Groups[0] = "admins"
	if issued.Groups[0] != "finance" {
		t.Fatal("the issued token shares the user's group slice")
	}
	// No groups: no claim at all.
	u.Groups = nil
	tok, _, err = s.IssueFor(u, 0, "", clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := decodeSegment(t, tok, 1)["groups"]; ok {
		t.Fatal("a groups claim for a user without groups")
	}
	u.Groups = []string{"B"}
	if _, _, err := s.IssueFor(u, 0, "", clock.Now()); err == nil {
		t.Fatal("issued a token with an invalid group name")
	}
}

// A token signed with the right key but an invalid groups claim is refused: the verifier does
// not pass on group names that gatehouse would never have issued.
func TestVerifyRefusesBadGroups(t *testing.T) {
	clock := newTestClock()
	ks := mustKeySet(t, AlgEdDSA, clock)
	s := mustService(t, ks, clock, nil)
	for _, groups := range []any{[]string{"Admin"}, []string{"b", "a"}, []string{"a", "a"}, "admin", []any{1}, map[string]any{}} {
		c := validClaims(clock)
		c["groups"] = groups
		if _, err := s.Verify(signWithKeySet(t, ks, validHeader(ks), c)); err == nil {
			t.Errorf("groups %v accepted", groups)
		}
	}
	c := validClaims(clock)
	c["groups"] = []string{"a", "b"}
	if got, err := s.Verify(signWithKeySet(t, ks, validHeader(ks), c)); err != nil || len(got.Groups) != 2 {
		t.Fatalf("valid groups: %v, %v", got, err)
	}
}

// TestIssueForCarriesMethods: the sign-in methods become the "amr" and "acr" claims and come
// back from Verify; none recorded, neither claim.
func TestIssueForCarriesMethods(t *testing.T) {
	clock := newTestClock()
	ks := mustKeySet(t, AlgEdDSA, clock)
	s := mustService(t, ks, clock, nil)
	u := &gatehouse.User{ID: testPrincipal.UserID, Username: testPrincipal.Username, Role: testPrincipal.Role}
	amr := gatehouse.MethodPassword | gatehouse.MethodOTP
	tok, issued, err := s.IssueFor(u, amr, "fam1", clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	claims := decodeSegment(t, tok, 1)
	if got := claims["amr"].([]any); len(got) != 3 || got[0] != "pwd" || got[1] != "otp" || got[2] != "mfa" || claims["acr"] != "aal2" {
		t.Fatalf("claims amr %v acr %v", claims["amr"], claims["acr"])
	}
	got, err := s.Verify(tok)
	if err != nil || got.AMR != amr || issued.AMR != amr {
		t.Fatalf("Verify = %+v, %v; issued %+v", got, err, issued)
	}
	tok, _, err = s.IssueFor(u, 0, "", clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	if c := decodeSegment(t, tok, 1); c["amr"] != nil || c["acr"] != nil {
		t.Fatalf("claims for no recorded methods: amr %v acr %v", c["amr"], c["acr"])
	}
	if _, _, err := s.IssueFor(u, 0x80, "", clock.Now()); err == nil {
		t.Fatal("issued a token with unknown methods")
	}
}
