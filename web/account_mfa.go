package web

import (
	"fmt"
	"html/template"
	"net/http"
	"strings"

	"github.com/boombuler/barcode/qr"

	"github.com/gatehouse-auth/gatehouse"
	"github.com/gatehouse-auth/gatehouse/authn"
	ghttp "github.com/gatehouse-auth/gatehouse/http"
)

// An authenticator app set up from the account page: the key as a QR code (inline SVG, no
// script and no image request) and as text, then a first code to confirm it, then the
// recovery codes, shown once.

// totpView is the set-up page.
type totpView struct {
	Secret    string
	QR        template.HTML
	Code      fieldView
	FormError string
	Codes     []string
}

// qrSVG draws text as a QR code in SVG, each dark module a unit square, with the quiet zone
// of four modules the standard asks for.
func qrSVG(text string) (template.HTML, error) {
	code, err := qr.Encode(text, qr.M, qr.Auto)
	if err != nil {
		return "", err
	}
	b := code.Bounds()
	n := b.Dx()
	var path strings.Builder
	for y := 0; y < n; y++ {
		for x := 0; x < n; x++ {
			if r, _, _, _ := code.At(b.Min.X+x, b.Min.Y+y).RGBA(); r == 0 {
				fmt.Fprintf(&path, "M%d %dh1v1h-1z", x+4, y+4)
			}
		}
	}
	// The path holds digits and the letters M, h, v and z only: nothing to escape.
	return template.HTML(fmt.Sprintf(`<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %d %d" width="220" height="220" role="img" aria-label="QR code of the key"><rect width="100%%" height="100%%" fill="#fff"/><path fill="#000" d="%s"/></svg>`,
		n+8, n+8, path.String())), nil
}

func (s *Pages) handleTOTPSetup(w http.ResponseWriter, r *http.Request, p *pageReq) {
	en, err := s.authn.BeginTOTP(r.Context(), p.user())
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	svg, err := qrSVG(en.URL)
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	v := totpView{Secret: en.Secret, QR: svg, Code: field("code", "Code from the app", "text", "", nil).auto("one-time-code").required()}
	s.render(w, r, http.StatusOK, "account_totp.html", s.newPageData(p, "Authenticator app", "account", v))
}

func (s *Pages) handleTOTPConfirm(w http.ResponseWriter, r *http.Request, p *pageReq) {
	codes, err := s.authn.ConfirmTOTP(r.Context(), p.user(), r.PostForm.Get("code"), s.client(r))
	if wait, ok := authn.RetryAfter(err); ok {
		s.api.NoteThrottled(w, "second_factor", wait)
	}
	switch code := gatehouse.ErrorCode(err); {
	case err == nil:
		if codes == nil {
			codes = []string{}
		}
		s.render(w, r, http.StatusOK, "account_totp.html", s.newPageData(p, "Authenticator app", "account", totpView{Codes: codes}))
	case code == gatehouse.EINVALIDCREDENTIALS || code == gatehouse.ERATELIMITED:
		msg := "That code is not right. Set the app up again and enter the code it shows."
		if code == gatehouse.ERATELIMITED {
			msg = sentence(gatehouse.ErrorMessage(err))
		}
		s.renderMessage(w, r, p, ghttp.StatusOf(code), "Authenticator app not set up", msg)
	default:
		s.renderError(w, r, err)
	}
}
