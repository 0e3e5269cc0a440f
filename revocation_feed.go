package gatehouse

import "time"

// RevocationKind says what a RevocationEvent revokes.
type RevocationKind string

// Kinds of revocation events.
const (
	// RevokedToken denies one access token, by jti, until a time.
	RevokedToken RevocationKind = "token"
	// NotBeforeChanged rejects every session and token of a user issued before a time.
	NotBeforeChanged RevocationKind = "not_before"
)

// RevocationEvent is one revocation written through a RevocationStore.
type RevocationEvent struct {
	Kind RevocationKind
	// ID is the token's jti (RevokedToken) or the user's id (NotBeforeChanged).
	ID string
	// Time is when the token's denial ends (RevokedToken) or the user's new not-before time
	// (NotBeforeChanged).
	Time time.Time
}

// RevocationFeed is an optional RevocationStore capability: it reports every revocation
// written through the store, as it happens, to subscribers (such as the revocation stream that
// other services follow).
type RevocationFeed interface {
	// SubscribeRevocations returns a channel that receives every revocation written from now
	// on, after the store has accepted it, and a function that ends the subscription. The
	// channel holds up to buffer events; a subscriber that falls further behind is dropped:
	// its channel is closed, and it must subscribe again and reload the store's state.
	SubscribeRevocations(buffer int) (events <-chan RevocationEvent, cancel func())
}
