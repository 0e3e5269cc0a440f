package gatehouse

import (
	"context"
	"time"
)

// Grant is a user's consent that a client may sign them in and learn what its scopes name.
// The consent page records one (or widens it); a first-party client gets one without asking.
// The user lists and revokes grants on the account page; a revoked grant ends the client's
// refresh tokens for the user, and the next sign-in asks again.
type Grant struct {
	UserID   string   `json:"-"`
	ClientID string   `json:"client_id"`
	Scopes   []string `json:"scopes"`
	// CreatedAt is when the user first granted; a refresh token of the client whose family
	// began before it (so under a grant that was revoked since) is refused.
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// Covers reports whether the grant holds every scope of scopes.
func (g *Grant) Covers(scopes []string) bool {
	for _, s := range scopes {
		found := false
		for _, h := range g.Scopes {
			found = found || h == s
		}
		if !found {
			return false
		}
	}
	return true
}

// GrantStore keeps the grants; it lives with the users (SQLite or PostgreSQL), and a user's or
// a client's deletion removes theirs.
type GrantStore interface {
	// SaveGrant stores g, replacing the scopes and UpdatedAt of the user's grant to the client
	// when there is one (its CreatedAt stays).
	SaveGrant(ctx context.Context, g *Grant) error
	// Grant returns the user's grant to the client; found=false if none.
	Grant(ctx context.Context, userID, clientID string) (g *Grant, found bool, err error)
	// ListGrants returns the user's grants, ordered by client id.
	ListGrants(ctx context.Context, userID string) ([]*Grant, error)
	// DeleteGrant removes the user's grant to the client; found=false if there was none.
	DeleteGrant(ctx context.Context, userID, clientID string) (found bool, err error)
}
