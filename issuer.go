package gatehouse

import "context"

// IssuerRecorder is an optional capability of a UserStore: the store remembers the issuer
// ("iss") of the access tokens of the instances that share it, so that an instance configured
// with another issuer can refuse to start instead of issuing tokens that the others reject.
type IssuerRecorder interface {
	// RecordIssuer records iss when the store has no issuer yet, and returns the recorded
	// issuer (iss itself on the first call).
	RecordIssuer(ctx context.Context, iss string) (recorded string, err error)
	// ReplaceIssuer records iss in place of the recorded issuer, if any.
	ReplaceIssuer(ctx context.Context, iss string) error
}
