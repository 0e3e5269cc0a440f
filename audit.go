package gatehouse

import (
	"context"
	"time"
)

// Audit actions: what an AuditEvent records.
const (
	AuditLogin           = "login"                    // a password login (success or failure)
	AuditLogout          = "logout"                   // the caller ended its session or access token
	AuditLogoutAll       = "logout_all"               // the caller signed out everywhere
	AuditSessionRevoked  = "session_revoked"          // one session ended by its owner or an admin
	AuditSessionsRevoked = "sessions_revoked"         // an admin signed a user out everywhere
	AuditTokenRevoked    = "token_revoked"            // an access or refresh token revoked (RFC 7009)
	AuditRefreshReuse    = "refresh_reuse"            // a rotated refresh token came back; its family was revoked
	AuditUserCreated     = "user_created"             // by an admin, by self-registration, or at first start
	AuditUserDeleted     = "user_deleted"             // by an admin
	AuditRoleChanged     = "role_changed"             // by an admin; Detail is "old->new"
	AuditUserDisabled    = "user_disabled"            // by an admin
	AuditUserEnabled     = "user_enabled"             // by an admin
	AuditPasswordChanged = "password_changed"         // by an admin
	AuditGroupsChanged   = "groups_changed"           // by an admin; Detail is the new list
	AuditProfileChanged  = "profile_changed"          // name or e-mail address, by an admin or the user
	AuditResetRequested  = "password_reset_requested" // a reset link was mailed (or refused: disabled account)
	AuditPasswordReset   = "password_reset"           // a password set through a reset link
	AuditEmailVerified   = "email_verified"           // an address proved by its link
	AuditKeyRotated      = "key_rotated"              // a new signing key; Detail is its kid
	AuditDataRestored    = "data_restored"            // gatehouse restore wrote the database from a backup
	AuditDataMigrated    = "data_migrated"            // gatehouse migrate copied a data directory into this store
	// Second factors. Detail names the kind ("totp", "webauthn", "recovery_code") and, for a
	// WebAuthn credential, its name; never a secret, a code or a credential's key.
	AuditSecondFactor  = "second_factor"  // a sign-in's second step (success or failure), or a passkey sign-in
	AuditFactorAdded   = "factor_added"   // a factor enrolled (TOTP confirmed, WebAuthn credential registered)
	AuditFactorRemoved = "factor_removed" // a factor removed by its user
	AuditFactorRenamed = "factor_renamed" // a security key or passkey renamed by its user; Detail names it
	AuditFactorsReset  = "factors_reset"  // an admin removed every factor of a user
	AuditRecoveryCodes = "recovery_codes" // recovery codes regenerated
	AuditClientCreated = "client_created" // an OpenID Connect client registered; Detail names it
	AuditClientDeleted = "client_deleted" // an OpenID Connect client deleted; Detail names it
)

// Audit outcomes.
const (
	AuditSuccess = "success"
	AuditFailure = "failure"
)

// AuditEvent is one security-relevant event. It never carries a secret: no password, token,
// refresh token or cookie value, only ids that cannot be used to authenticate.
type AuditEvent struct {
	// ID orders events (NewID: later events sort after earlier ones).
	ID      string    `json:"id"`
	Time    time.Time `json:"time"`
	Action  string    `json:"action"`
	Outcome string    `json:"outcome"`
	// UserID is the account the event is about ("" when no account is known, such as a login
	// with an unknown username).
	UserID string `json:"user_id"`
	// ActorID is who did it when that is not UserID (an admin); "" otherwise.
	ActorID   string `json:"actor_id"`
	IP        string `json:"ip"`
	UserAgent string `json:"user_agent"`
	// Detail is a short, secret-free explanation (an error code, a login mode, a role change).
	Detail string `json:"detail"`
}

// AuditQuery selects audit events, newest first.
type AuditQuery struct {
	// After is the ID of the last event of the previous page: the page holds older events.
	After string
	// Limit is the most events returned.
	Limit int
	// UserID and Action, when set, keep only the events of that user (as subject or actor)
	// and of that action.
	UserID, Action string
}

// DefaultAuditRetention is how long an AuditStore keeps events by default.
const DefaultAuditRetention = 90 * 24 * time.Hour

// AuditStore keeps the audit trail. It lives with the users (SQLite, PostgreSQL).
type AuditStore interface {
	// AppendAudit stores e, whose ID and Time the caller has set.
	AppendAudit(ctx context.Context, e *AuditEvent) error
	// ListAudit returns the events q selects, newest first.
	ListAudit(ctx context.Context, q AuditQuery) ([]*AuditEvent, error)
}
