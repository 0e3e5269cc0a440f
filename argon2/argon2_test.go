package argon2_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"strings"
	"testing"

	"github.com/gatehouse-auth/gatehouse"
	"github.com/gatehouse-auth/gatehouse/argon2"
	xargon2 "golang.org/x/crypto/argon2"
)

// small keeps tests fast; one test below uses DefaultParams, the production parameters.
var small = argon2.Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}

func newSmall(t testing.TB) *argon2.Hasher {
	t.Helper()
	return argon2.New(argon2.Options{Params: small, MaxConcurrent: 2})
}

func TestRoundTrip(t *testing.T) {
	ctx := context.Background()
	h := newSmall(t)
	enc, err := h.Hash(ctx, "correct horse battery staple")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(enc, "$argon2id$v=19$m=64,t=1,p=1$") {
		t.Fatalf("encoded = %q, want the PHC argon2id prefix with m=64,t=1,p=1", enc)
	}
	ok, rehash, err := h.Verify(ctx, enc, "correct horse battery staple")
	if err != nil || !ok || rehash {
		t.Fatalf("Verify(right password) = %v, %v, %v; want true, false, nil", ok, rehash, err)
	}
	again, err := h.Hash(ctx, "correct horse battery staple")
	if err != nil {
		t.Fatal(err)
	}
	if again == enc {
		t.Fatal("two hashes of one password are equal: the salt is not random")
	}
}

func TestWrongPassword(t *testing.T) {
	ctx := context.Background()
	h := newSmall(t)
	enc, err := h.Hash(ctx, "correct horse battery staple")
	if err != nil {
		t.Fatal(err)
	}
	for _, pw := range []string{"", "correct horse battery stapl", "Correct horse battery staple", "correct horse battery staple "} {
		ok, rehash, err := h.Verify(ctx, enc, pw)
		if err != nil || ok || rehash {
			t.Errorf("Verify(%q) = %v, %v, %v; want false, false, nil", pw, ok, rehash, err)
		}
	}
}

// TestDefaultParams runs the production parameters once, end to end.
func TestDefaultParams(t *testing.T) {
	ctx := context.Background()
	h := argon2.New(argon2.Options{})
	if h.Params() != argon2.DefaultParams {
		t.Fatalf("Params() = %+v, want DefaultParams %+v", h.Params(), argon2.DefaultParams)
	}
	enc, err := h.Hash(ctx, "pässwörd with defaults")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(enc, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Fatalf("encoded = %q, want OWASP parameters m=19456,t=2,p=1", enc)
	}
	p, salt, key, err := argon2.Decode(enc)
	if err != nil || p != argon2.DefaultParams || len(salt) != 16 || len(key) != 32 {
		t.Fatalf("Decode = %+v, %d-byte salt, %d-byte key, %v", p, len(salt), len(key), err)
	}
	want := xargon2.IDKey([]byte("pässwörd with defaults"), salt, 2, 19*1024, 1, 32)
	if !bytes.Equal(key, want) {
		t.Fatal("stored key differs from x/crypto/argon2.IDKey over the same inputs")
	}
	if ok, rehash, err := h.Verify(ctx, enc, "pässwörd with defaults"); !ok || rehash || err != nil {
		t.Fatalf("Verify = %v, %v, %v; want true, false, nil", ok, rehash, err)
	}
	if ok, _, err := h.Verify(ctx, enc, "passwoerd with defaults"); ok || err != nil {
		t.Fatalf("Verify(wrong) = %v, %v; want false, nil", ok, err)
	}
}

func TestRehash(t *testing.T) {
	ctx := context.Background()
	a := newSmall(t)
	enc, err := a.Hash(ctx, "a long enough password")
	if err != nil {
		t.Fatal(err)
	}
	others := map[string]argon2.Params{
		"memory":  {Memory: 128, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32},
		"time":    {Memory: 64, Time: 2, Threads: 1, SaltLen: 16, KeyLen: 32},
		"threads": {Memory: 64, Time: 1, Threads: 2, SaltLen: 16, KeyLen: 32},
		"salt":    {Memory: 64, Time: 1, Threads: 1, SaltLen: 32, KeyLen: 32},
		"key":     {Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 64},
	}
	for name, p := range others {
		b := argon2.New(argon2.Options{Params: p, MaxConcurrent: 1})
		ok, rehash, err := b.Verify(ctx, enc, "a long enough password")
		if err != nil || !ok || !rehash {
			t.Errorf("%s differs: Verify = %v, %v, %v; want true, true, nil", name, ok, rehash, err)
		}
		ok, rehash, err = b.Verify(ctx, enc, "a wrong password")
		if err != nil || ok || rehash {
			t.Errorf("%s differs, wrong password: Verify = %v, %v, %v; want false, false, nil", name, ok, rehash, err)
		}
	}
}

// Reference vectors from phc-winner-argon2 (src/test.c): password "password", salt "somesalt".
var referenceVectors = []string{
	"$argon2id$v=19$m=256,t=2,p=1$c29tZXNhbHQ$nf65EOgLrQMR/uIPnA4rEsF5h7TKyQwu9U1bMCHGi/4",
	"$argon2id$v=19$m=256,t=2,p=2$c29tZXNhbHQ$bQk8UB/VmZZF4Oo79iDXuL5/0ttZwg2f/5U52iv1cDc",
	"$argon2id$v=19$m=65536,t=2,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc",
}

func TestReferenceVectors(t *testing.T) {
	ctx := context.Background()
	h := newSmall(t)
	for _, enc := range referenceVectors {
		ok, rehash, err := h.Verify(ctx, enc, "password")
		if err != nil || !ok || !rehash {
			t.Errorf("Verify(%s, password) = %v, %v, %v; want true, true (other params), nil", enc, ok, rehash, err)
		}
		if ok, _, err := h.Verify(ctx, enc, "passwore"); ok || err != nil {
			t.Errorf("Verify(%s, passwore) = %v, %v; want false, nil", enc, ok, err)
		}
	}
}

// TestVectorAgainstIDKey checks the reference vector against x/crypto's IDKey directly, and
// that Encode lays it out byte for byte as the reference implementation does.
func TestVectorAgainstIDKey(t *testing.T) {
	key := xargon2.IDKey([]byte("password"), []byte("somesalt"), 2, 65536, 1, 32)
	if got, want := hex.EncodeToString(key), "09316115d5cf24ed5a15a31a3ba326e5cf32edc24702987c02b6566f61913cf7"; got != want {
		t.Fatalf("IDKey = %s, want %s", got, want)
	}
	p := argon2.Params{Memory: 65536, Time: 2, Threads: 1}
	if got := argon2.Encode(p, []byte("somesalt"), key); got != referenceVectors[2] {
		t.Fatalf("Encode = %s\nwant     %s", got, referenceVectors[2])
	}
	dp, salt, dkey, err := argon2.Decode(referenceVectors[2])
	want := argon2.Params{Memory: 65536, Time: 2, Threads: 1, SaltLen: 8, KeyLen: 32}
	if err != nil || dp != want || string(salt) != "somesalt" || !bytes.Equal(dkey, key) {
		t.Fatalf("Decode = %+v, %q, %x, %v", dp, salt, dkey, err)
	}
}

func TestDummyHash(t *testing.T) {
	ctx := context.Background()
	h := newSmall(t)
	d := h.DummyHash()
	if d != h.DummyHash() {
		t.Fatal("DummyHash changes between calls")
	}
	p, _, _, err := argon2.Decode(d)
	if err != nil || p != small {
		t.Fatalf("Decode(DummyHash) = %+v, %v; want the hasher's params", p, err)
	}
	for _, pw := range []string{"", "password", d} {
		if ok, _, err := h.Verify(ctx, d, pw); ok || err != nil {
			t.Errorf("Verify(dummy, %q) = %v, %v; want false, nil", pw, ok, err)
		}
	}
	if newSmall(t).DummyHash() == d {
		t.Fatal("two hashers share a dummy hash")
	}
}

func TestNewRejectsBadParams(t *testing.T) {
	for _, p := range []argon2.Params{
		{Memory: argon2.MaxMemory + 1},
		{Time: argon2.MaxTime + 1},
		{Threads: argon2.MaxThreads + 1},
		{SaltLen: 4},
		{KeyLen: 8},
		{Memory: 8, Threads: 2},
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("New(%+v) did not panic", p)
				}
			}()
			argon2.New(argon2.Options{Params: p})
		}()
	}
}

func TestVerifyMalformed(t *testing.T) {
	h := newSmall(t)
	for _, enc := range []string{"", "$argon2id$", "plain", "$2a$10$abcdefghijklmnopqrstuuABCDEFGHIJKLMNOPQRSTUVWXYZ012"} {
		ok, rehash, err := h.Verify(context.Background(), enc, "password")
		if ok || rehash || !errors.Is(err, argon2.ErrInvalidHash) {
			t.Errorf("Verify(%q) = %v, %v, %v; want false, false, ErrInvalidHash", enc, ok, rehash, err)
		}
		if errors.Is(err, gatehouse.ErrBusy) {
			t.Errorf("Verify(%q) error %v is ErrBusy", enc, err)
		}
	}
}

func BenchmarkHashDefault(b *testing.B) {
	h := argon2.New(argon2.Options{})
	ctx := context.Background()
	for b.Loop() {
		if _, err := h.Hash(ctx, "benchmark password of a usual length"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerifyDefault(b *testing.B) {
	h := argon2.New(argon2.Options{})
	ctx := context.Background()
	enc, err := h.Hash(ctx, "benchmark password of a usual length")
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if ok, _, err := h.Verify(ctx, enc, "benchmark password of a usual length"); !ok || err != nil {
			b.Fatal(ok, err)
		}
	}
}
