package mfa_test

import (
	"bytes"
	"crypto/rand"
	"testing"

	"github.com/gatehouse-auth/gatehouse/mfa"
)

func newKey() []byte {
	k := make([]byte, mfa.KeySize)
	_, _ = rand.Read(k)
	return k
}

func TestSealerRoundTripAndBinding(t *testing.T) {
	s, err := mfa.NewSealer(newKey())
	if err != nil {
		t.Fatal(err)
	}
	secret := []byte("JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP")
	sealed := s.Seal("alice", secret)
	if bytes.Contains(sealed, secret) {
		t.Fatal("the sealed form contains the secret")
	}
	if again := s.Seal("alice", secret); bytes.Equal(again, sealed) {
		t.Fatal("two seals of one secret are equal: the nonce is not fresh")
	}
	got, stale, err := s.Open("alice", sealed)
	if err != nil || stale || !bytes.Equal(got, secret) {
		t.Fatalf("Open = %q, %v, %v", got, stale, err)
	}
	// Bound to the user: alice's sealed secret copied to bob's row does not open.
	if _, _, err := s.Open("bob", sealed); !errorsIs(err, mfa.ErrWrongKey) {
		t.Fatalf("Open for another user = %v, want ErrWrongKey", err)
	}
	for i := range sealed {
		bad := bytes.Clone(sealed)
		bad[i] ^= 1
		if _, _, err := s.Open("alice", bad); !errorsIs(err, mfa.ErrWrongKey) {
			t.Fatalf("Open with byte %d flipped = %v, want ErrWrongKey", i, err)
		}
	}
	for _, bad := range [][]byte{nil, []byte("plain"), sealed[:20]} {
		if _, _, err := s.Open("alice", bad); !errorsIs(err, mfa.ErrWrongKey) {
			t.Fatalf("Open(%q) = %v, want ErrWrongKey", bad, err)
		}
	}
}

func TestSealerRotation(t *testing.T) {
	oldKey, newK := newKey(), newKey()
	old, _ := mfa.NewSealer(oldKey)
	sealed := old.Seal("u", []byte("s"))
	rotated, err := mfa.NewSealer(newK, oldKey)
	if err != nil {
		t.Fatal(err)
	}
	got, stale, err := rotated.Open("u", sealed)
	if err != nil || !stale || string(got) != "s" {
		t.Fatalf("Open of a secret sealed under the old key = %q, stale=%v, %v; want it, stale", got, stale, err)
	}
	fresh := rotated.Seal("u", []byte("t"))
	if _, stale, err := rotated.Open("u", fresh); err != nil || stale {
		t.Fatalf("a fresh seal: stale=%v, %v", stale, err)
	}
	// A server that dropped the old key cannot open it, and says so.
	newOnly, _ := mfa.NewSealer(newK)
	if _, _, err := newOnly.Open("u", sealed); !errorsIs(err, mfa.ErrWrongKey) {
		t.Fatalf("Open without the key = %v, want ErrWrongKey", err)
	}
}

func TestSealerKeys(t *testing.T) {
	if _, err := mfa.NewSealer(); err == nil {
		t.Fatal("a sealer without keys was made")
	}
	if _, err := mfa.NewSealer(make([]byte, 16)); err == nil {
		t.Fatal("a 16-byte key was accepted")
	}
	kek := newKey()
	d1, err := mfa.DeriveKey(kek)
	if err != nil {
		t.Fatal(err)
	}
	d2, _ := mfa.DeriveKey(kek)
	if !bytes.Equal(d1, d2) || bytes.Equal(d1, kek) || len(d1) != mfa.KeySize {
		t.Fatal("DeriveKey is not a deterministic, distinct 32-byte key")
	}
	if _, err := mfa.DeriveKey(kek[:8]); err == nil {
		t.Fatal("DeriveKey accepted a short key")
	}
}
