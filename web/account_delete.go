package web

import (
	"net/http"

	"github.com/gatehouse-auth/gatehouse/authn"
)

// "Delete my account" on the account page, when the server allows it
// (--allow-account-deletion): the use case of DELETE /api/me, with the password and the
// username typed again.

type deleteView struct {
	Password, Username fieldView
	Error              string
}

func deleteForm(errs map[string]string, formErr string) *deleteView {
	return &deleteView{
		Password: field("password", "Your password", "password", "", errs).id("delete-").auto("current-password").required(),
		Username: field("confirm_username", "Your username, to confirm", "text", "", errs).id("delete-").auto("off").required(),
		Error:    formErr,
	}
}

func (s *Pages) handleDeleteAccount(w http.ResponseWriter, r *http.Request, p *pageReq) {
	if !s.api.AccountDeletionAllowed() {
		s.renderMessage(w, r, p, http.StatusForbidden, "Not here", "This server does not let you delete your account yourself. Ask an administrator.")
		return
	}
	err := s.authn.DeleteOwnAccount(r.Context(), p.user(), r.PostForm.Get("password"), r.PostForm.Get("confirm_username"), s.client(r))
	if wait, ok := authn.RetryAfter(err); ok {
		s.api.NoteThrottled(w, "login", wait)
	}
	if err != nil {
		s.pageFormFailed(w, r, err, func(status int, _ map[string]string, formErr string) {
			errs := map[string]string{}
			if f, msg := fieldError(err, "password", "confirm_username"); f != "" {
				errs[f], formErr = msg, ""
			}
			s.renderAccountWith(w, r, p, status, func(v *accountView) { v.Delete = deleteForm(errs, formErr) })
		})
		return
	}
	s.api.ClearSessionCookie(w)
	s.log.InfoContext(r.Context(), "account deleted by its user on the web", "user_id", p.user().UserID)
	redirect(w, r, "/?msg=account-deleted")
}
