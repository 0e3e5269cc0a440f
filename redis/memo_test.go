package redis

import "testing"

func TestKeyMemo(t *testing.T) {
	st := NewRevocationStore(nil, "p:", RevocationOptions{})
	for _, id := range []string{"u1", "u2", "", "a-much-longer-user-id-than-the-others", "u1"} {
		n := revShard(id)
		want := st.shards[n] + "nb:" + id
		for range 2 { // a miss, then a hit
			if got, shard := st.nbKey(id); got != want || shard != n {
				t.Fatalf("nbKey(%q) = %q, %d; want %q, %d", id, got, shard, want, n)
			}
		}
		if got, _ := st.jtiKey(id); got != st.shards[n]+"jti:"+id {
			t.Fatalf("jtiKey(%q) = %q", id, got)
		}
	}
	// Ids whose slots collide replace each other and are still answered right.
	var a, b string
	for i := 0; b == ""; i++ {
		id := string(rune('a'+i%26)) + string(rune('a'+i/26%26)) + string(rune('a'+i/676))
		if a == "" {
			a = id
		} else if revHash(id)/revShards%keyMemoSlots == revHash(a)/revShards%keyMemoSlots {
			b = id
		}
	}
	for _, id := range []string{a, b, a} {
		if got, n := st.nbKey(id); got != st.shards[n]+"nb:"+id {
			t.Fatalf("nbKey(%q) = %q after a collision", id, got)
		}
	}
	if n := testing.AllocsPerRun(100, func() { st.nbKey("u1") }); n != 0 {
		t.Fatalf("nbKey of a remembered id allocates %v times", n)
	}
}
