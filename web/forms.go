package web

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"unicode/utf8"
)

// formLimit is net/http's limit on a form-encoded body (its maxFormSize).
const formLimit = 10 << 20

// parseForm reads the request's form (query string and body) once, before
// any handler looks at a field. A body over the limit — net/http's 10 MiB,
// or a smaller http.MaxBytesReader limit the server sets — gets 413 naming
// the limit; a form that does not decode, or a field name or value that is
// not valid UTF-8, gets 400 naming the field. false means the error page
// was written and the request must go no further.
func (u *UI) parseForm(w http.ResponseWriter, r *http.Request, p principal) bool {
	if err := r.ParseForm(); err != nil {
		var mbe *http.MaxBytesError
		switch {
		case errors.As(err, &mbe):
			u.errorPage(w, r, p, http.StatusRequestEntityTooLarge,
				fmt.Sprintf("The form is larger than the limit of %d bytes.", mbe.Limit))
		case err.Error() == "http: POST too large":
			u.errorPage(w, r, p, http.StatusRequestEntityTooLarge,
				fmt.Sprintf("The form is larger than the limit of %d bytes (10 MiB).", formLimit))
		default:
			u.errorPage(w, r, p, http.StatusBadRequest, "Reading the form failed: "+err.Error())
		}
		return false
	}
	if err := checkUTF8(r.Form); err != nil {
		u.errorPage(w, r, p, http.StatusBadRequest, "Form refused: "+err.Error())
		return false
	}
	return true
}

// checkUTF8 returns an error naming the first field (in name order) whose
// name or one of whose values is not valid UTF-8: url.ParseQuery decodes
// %ff without complaint, and the store would keep it as U+FFFD.
func checkUTF8(form url.Values) error {
	names := make([]string, 0, len(form))
	for name := range form {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		if !utf8.ValidString(name) {
			return fmt.Errorf("a field name is not valid UTF-8: %q", name)
		}
		for _, v := range form[name] {
			if !utf8.ValidString(v) {
				return fmt.Errorf("field %s: the value is not valid UTF-8", name)
			}
		}
	}
	return nil
}
