package token

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/gatehouse-auth/gatehouse"
	"github.com/golang-jwt/jwt/v5"
)

// errClaims marks the claim checks the JWT library does not make itself.
var errClaims = errors.New("invalid gatehouse claims")

// accessClaims is the claim set of an access token as Verify reads it (aud may be a string or
// an array).
type accessClaims struct {
	jwt.RegisteredClaims
	Name     string         `json:"name"`
	Email    string         `json:"email"`
	Role     gatehouse.Role `json:"role"`
	Username string         `json:"username"`
	SID      string         `json:"sid,omitempty"`
	Groups   []string       `json:"groups"`
	AMR      []string       `json:"amr"`
	// IAT, EXP and NBF shadow the RegisteredClaims fields, which would also take a JSON string
	// holding a number (as encoding/json does for json.Number): a NumericDate must be a JSON
	// number (RFC 7519 section 2), and a token that says otherwise is malformed. IAT also
	// keeps its fraction, which the library would round to whole seconds: gatehouse stamps iat
	// with milliseconds (gatehouse.StampPrecision).
	IAT jsonNumber  `json:"iat"`
	EXP numericDate `json:"exp"`
	NBF numericDate `json:"nbf"`
	iat time.Time
}

// errClaimType marks a registered claim of the wrong JSON type.
var errClaimType = errors.New("a NumericDate claim (exp, nbf, iat) is not a JSON number")

// jsonNumber is a claim that must be a JSON number, kept as written.
type jsonNumber string

func (n *jsonNumber) UnmarshalJSON(b []byte) error {
	if len(b) == 0 || b[0] != '-' && (b[0] < '0' || b[0] > '9') {
		return errClaimType
	}
	*n = jsonNumber(b)
	return nil
}

// numericDate is a NumericDate claim that must be a JSON number.
type numericDate struct{ *jwt.NumericDate }

func (d *numericDate) UnmarshalJSON(b []byte) error {
	var n jsonNumber
	if err := n.UnmarshalJSON(b); err != nil {
		return err
	}
	d.NumericDate = new(jwt.NumericDate)
	return d.NumericDate.UnmarshalJSON(b)
}

// GetExpirationTime and GetNotBefore give the library the strictly typed claims.
func (c *accessClaims) GetExpirationTime() (*jwt.NumericDate, error) { return c.EXP.NumericDate, nil }
func (c *accessClaims) GetNotBefore() (*jwt.NumericDate, error)      { return c.NBF.NumericDate, nil }

// GetIssuedAt returns iat with its fraction, for the library's "iat not in the future" check.
func (c *accessClaims) GetIssuedAt() (*jwt.NumericDate, error) {
	if c.IAT == "" {
		return nil, nil
	}
	f, err := strconv.ParseFloat(string(c.IAT), 64)
	if err != nil || f < 0 || f > maxDateSeconds {
		return nil, errors.Join(errClaims, errors.New("iat is not a valid NumericDate"))
	}
	ms := int64(f*1000 + 0.5)
	c.iat = time.UnixMilli(ms)
	return &jwt.NumericDate{Time: c.iat}, nil
}

// maxDateSeconds bounds NumericDates (year 9999) so that float conversions stay exact to the
// millisecond.
const maxDateSeconds = 253402300799

// Validate runs after the library's checks of exp, nbf, iat, iss and aud: it requires sub, jti
// and iat, and a known role.
func (c *accessClaims) Validate() error {
	switch {
	case c.Subject == "":
		return errors.Join(errClaims, errors.New("sub is required"))
	case c.ID == "":
		return errors.Join(errClaims, errors.New("jti is required"))
	case c.IAT == "" || c.iat.IsZero():
		return errors.Join(errClaims, errors.New("iat is required"))
	case !c.Role.Valid():
		return errors.Join(errClaims, errors.New("role is not a gatehouse role"))
	case len(c.Groups) > 0 && gatehouse.CheckGroups(c.Groups) != nil:
		return errors.Join(errClaims, errors.New("groups is not a sorted list of group names"))
	}
	return nil
}

// token returns what c says about its bearer.
func (c *accessClaims) token() *gatehouse.Token {
	return &gatehouse.Token{
		Principal: gatehouse.Principal{
			UserID:   c.Subject,
			Username: c.Username,
			Name:     c.Name,
			Email:    c.Email,
			Role:     c.Role,
			Groups:   c.Groups,
		},
		ID:        c.ID,
		Family:    c.SID,
		AMR:       gatehouse.ParseAMR(c.AMR),
		IssuedAt:  c.iat,
		ExpiresAt: c.EXP.Time,
	}
}

// issueClaims is the claim set Issue signs. aud is a single string (RFC 7519 allows it and
// most verifiers expect it for one audience). It implements jwt.Claims only to satisfy
// jwt.NewWithClaims; nothing validates it.
type issueClaims struct {
	Subject   string      `json:"sub"`
	Name      string      `json:"name"`
	Email     string      `json:"email"`
	Role      string      `json:"role"`
	Username  string      `json:"username"`
	Issuer    string      `json:"iss"`
	Audience  string      `json:"aud"`
	IssuedAt  json.Number `json:"iat"` // seconds with milliseconds
	NotBefore int64       `json:"nbf"`
	ExpiresAt int64       `json:"exp"`
	ID        string      `json:"jti"`
	SID       string      `json:"sid,omitempty"`
	Groups    []string    `json:"groups,omitempty"`
	AMR       []string    `json:"amr,omitempty"`
	ACR       string      `json:"acr,omitempty"`
}

func (c *issueClaims) GetExpirationTime() (*jwt.NumericDate, error) {
	return unixDate(c.ExpiresAt), nil
}
func (c *issueClaims) GetIssuedAt() (*jwt.NumericDate, error)  { return nil, nil }
func (c *issueClaims) GetNotBefore() (*jwt.NumericDate, error) { return unixDate(c.NotBefore), nil }
func (c *issueClaims) GetIssuer() (string, error)              { return c.Issuer, nil }
func (c *issueClaims) GetSubject() (string, error)             { return c.Subject, nil }
func (c *issueClaims) GetAudience() (jwt.ClaimStrings, error) {
	return jwt.ClaimStrings{c.Audience}, nil
}

// numericDateMillis writes t as a NumericDate with milliseconds, "1700000000.123", or whole
// seconds when the fraction is zero.
func numericDateMillis(t time.Time) json.Number {
	ms := t.UnixMilli()
	if ms%1000 == 0 {
		return json.Number(strconv.FormatInt(ms/1000, 10))
	}
	return json.Number(fmt.Sprintf("%d.%03d", ms/1000, ms%1000))
}

func unixDate(sec int64) *jwt.NumericDate { return jwt.NewNumericDate(time.Unix(sec, 0)) }
