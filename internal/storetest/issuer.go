package storetest

import (
	"context"
	"sync"
	"testing"

	"github.com/gatehouse-auth/gatehouse"
)

// TestIssuerRecorder runs the contract of gatehouse.IssuerRecorder: the first issuer recorded
// stays, whoever asks later and however many ask at once, until it is replaced.
func TestIssuerRecorder(t *testing.T, newStore func(t *testing.T) gatehouse.IssuerRecorder) {
	ctx := context.Background()
	t.Run("FirstWins", func(t *testing.T) {
		s := newStore(t)
		if got, err := s.RecordIssuer(ctx, "https://a.example"); err != nil || got != "https://a.example" {
			t.Fatalf("first record: %q %v", got, err)
		}
		if got, err := s.RecordIssuer(ctx, "https://b.example"); err != nil || got != "https://a.example" {
			t.Fatalf("second record: %q %v, want the first issuer", got, err)
		}
	})
	t.Run("Concurrent", func(t *testing.T) {
		s := newStore(t)
		var wg sync.WaitGroup
		got := make([]string, 8)
		for i := range got {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r, err := s.RecordIssuer(ctx, "https://"+string(rune('a'+i))+".example")
				if err != nil {
					t.Error(err)
				}
				got[i] = r
			}()
		}
		wg.Wait()
		for _, g := range got {
			if g != got[0] || g == "" {
				t.Fatalf("instances starting at once disagree: %q", got)
			}
		}
	})
	t.Run("Replace", func(t *testing.T) {
		s := newStore(t)
		if err := s.ReplaceIssuer(ctx, "https://c.example"); err != nil {
			t.Fatal(err)
		}
		if err := s.ReplaceIssuer(ctx, "https://d.example"); err != nil {
			t.Fatal(err)
		}
		if got, err := s.RecordIssuer(ctx, "https://e.example"); err != nil || got != "https://d.example" {
			t.Fatalf("after replace: %q %v", got, err)
		}
	})
}
