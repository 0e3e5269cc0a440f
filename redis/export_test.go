package redis

// Key names for the tests of package redis_test, which look at Redis directly.

// RevocationKey returns the key of a token ("jti") or user ("nb") revocation under prefix.
func RevocationKey(prefix, kind, id string) string {
	st := NewRevocationStore(nil, prefix, RevocationOptions{})
	if kind == "jti" {
		k, _ := st.jtiKey(id)
		return k
	}
	k, _ := st.nbKey(id)
	return k
}

// RevocationMarkers returns the marker keys of every revocation shard under prefix.
func RevocationMarkers(prefix string) []string {
	st := NewRevocationStore(nil, prefix, RevocationOptions{})
	return st.markers[:]
}

// RevocationMarker returns the marker key of the shard of a token or user id.
func RevocationMarker(prefix, id string) string {
	st := NewRevocationStore(nil, prefix, RevocationOptions{})
	return st.markers[revShard(id)]
}

// Crash stops the instance's heartbeats and subscriptions without leaving the registry, as a
// process that dies does.
func (p *Peers) Crash() {
	p.ended.Store(true)
	p.until.Store(0)
	p.stop()
	p.done.Wait()
}
