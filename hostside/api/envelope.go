package api

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
)

// envelope is the body of every response (zvmsdk/sdkserver.py): ModID is
// null on success and an int otherwise; Output is "" when there is nothing.
type envelope struct {
	OverallRC int    `json:"overallRC"`
	ModID     *int   `json:"modID"`
	RC        int    `json:"rc"`
	RS        int    `json:"rs"`
	ErrMsg    string `json:"errmsg"`
	Output    any    `json:"output"`
}

// Texts of webob's default explanations, which the original's
// FaultWrapper puts in errmsg for errors raised outside a handler.
const (
	// guess: webob.exc.HTTPNotFound.explanation.
	msgNotFound = "The resource could not be found."
	// guess: HTTPMethodNotAllowed inherits HTTPClientError.explanation.
	msgNotAllowed = "The server could not comply with the request since it is either malformed or otherwise incorrect."
	// guess: webob.exc.HTTPUnauthorized.explanation.
	msgUnauthorized = "This server could not verify that you are authorized to access the document you requested.  Either you supplied the wrong credentials (e.g., bad password), or your browser does not understand how to supply the credentials required."
)

// wsgiError is a framework error of the REST layer itself: overallRC 400,
// rc 400, rs the HTTP status, modID 120 (zvmsdk/sdkwsgi/deploy.py Fault,
// util.SdkWsgify). Its HTTP status is status, not 400.
func wsgiError(status int, msg string) *Error {
	return &Error{OverallRC: 400, ModID: ModWSGI, RC: 400, RS: status, Msg: msg}
}

// validationError is what a body that fails the original's JSON schema
// gets: a webob 400 whose explanation names the exception class
// (deploy.py FaultWrapper, exception.ValidationError).
func validationError(detail string) *Error {
	return wsgiError(http.StatusBadRequest, "ValidationError: Validation error: "+detail)
}

// inputError is the sdkserver's "Invalid API arg format" (returncode.py
// errors['input'] rs 3): overallRC 100, modID 400, HTTP 400.
func inputError(msg string) *Error {
	return &Error{OverallRC: 100, ModID: ModGeneric, RC: 100, RS: 3, Msg: "Invalid API arg format, error: " + msg}
}

// statusFor is the HTTP status of an error envelope. A framework error
// carries its own status in RS; route-specific mappers (the original's
// handle_not_found and friends) turn some SMAPI and module codes into
// 404 or 409; the rest follows Error.HTTPStatus.
func statusFor(e *Error, special func(*Error) int) int {
	if e.OverallRC == 400 && e.ModID == ModWSGI && e.RC == 400 && e.RS >= 400 && e.RS < 600 {
		return e.RS
	}
	if s := e.HTTPStatus(); s != http.StatusInternalServerError || special == nil {
		return s
	}
	if s := special(e); s != 0 {
		return s
	}
	return http.StatusInternalServerError
}

// notFound is util.handle_not_found.
func notFound(e *Error) int {
	switch {
	case e.OverallRC == 8 && e.RC == 212 && e.RS == 40, // vswitch
		e.OverallRC == 4 && e.RC == 5 && e.RS == 402,    // disk pool
		e.OverallRC == 300 && e.RC == 300 && e.RS == 20, // image
		e.OverallRC == 8 && e.RC == 400 && e.RS == 4,    // guest
		e.OverallRC == 8 && e.RC == 200 && e.RS == 4:    // guest
		return http.StatusNotFound
	case e.OverallRC == 300 && e.RC == 300 && e.RS == 3 && strings.Contains(e.Msg, "not linked; not in CP directory"):
		return http.StatusNotFound // deploy target vdev
	}
	return 0
}

// alreadyExists is util.handle_already_exists.
func alreadyExists(e *Error) int {
	switch {
	case e.OverallRC == 8 && e.RC == 212 && e.RS == 36, // vswitch
		e.OverallRC == 300 && e.RC == 300 && e.RS == 13, // image
		e.OverallRC == 8 && e.RC == 400 && e.RS == 8:    // guest
		return http.StatusConflict
	}
	return 0
}

// notFoundOrConflict is util.handle_not_found_and_conflict, used for
// guest actions: 300/300/5 is "guest is off".
func notFoundOrConflict(e *Error) int {
	if s := notFound(e); s != 0 {
		return s
	}
	if e.OverallRC == 300 && e.RC == 300 && e.RS == 5 {
		return http.StatusConflict
	}
	return 0
}

// writeJSON writes one envelope with the headers every response has.
func writeJSON(w http.ResponseWriter, status int, env *envelope) {
	b, err := json.Marshal(env)
	if err != nil {
		// Output that does not marshal is a bug in a backend; say so
		// in the envelope rather than sending half a body.
		mod := ModWSGI
		b, _ = json.Marshal(&envelope{OverallRC: 500, ModID: &mod, RC: 500, RS: 1,
			ErrMsg: "cannot encode the response: " + err.Error(), Output: ""})
		status = http.StatusInternalServerError
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-cache")
	h.Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// writeOK writes a success envelope around output (nil becomes "").
func writeOK(w http.ResponseWriter, output any) {
	if output == nil {
		output = ""
	}
	writeJSON(w, http.StatusOK, &envelope{Output: output})
}

// writeError writes e's envelope with the status statusFor gives.
func writeError(w http.ResponseWriter, e *Error, special func(*Error) int) int {
	mod := e.ModID
	status := statusFor(e, special)
	if rec, ok := w.(*recorder); ok {
		rec.overallRC = e.OverallRC
	}
	writeJSON(w, status, &envelope{OverallRC: e.OverallRC, ModID: &mod, RC: e.RC, RS: e.RS, ErrMsg: e.Msg, Output: ""})
	return status
}
