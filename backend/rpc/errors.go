package rpc

import (
	"encoding/json"
	"errors"
	"net/http"
)

// Kind says whose move a failed call is: the caller's (bad input, a state that forbids
// it) or the app's. The transports answer the caller's kinds with 4xx, never 500.
type Kind string

const (
	KindInvalid  Kind = "invalid"   // the input is wrong: fix it and retry (400)
	KindNotFound Kind = "not_found" // the thing is gone or never was (404)
	KindConflict Kind = "conflict"  // the thing's state forbids it, e.g. an archived loop (409)
	KindInternal Kind = "internal"  // the app failed (500)
)

// Error is a failure written for the user: Msg says what happened in plain words and
// Hint what to do next. Err (optional) keeps the cause for logs and errors.Is.
type Error struct {
	Kind Kind
	Msg  string
	Hint string
	Err  error
}

func (e *Error) Error() string { return e.Msg }
func (e *Error) Unwrap() error { return e.Err }

// Invalid, NotFound and Conflict build an *Error of that kind.
func Invalid(msg, hint string, cause error) error  { return &Error{KindInvalid, msg, hint, cause} }
func NotFound(msg, hint string, cause error) error { return &Error{KindNotFound, msg, hint, cause} }
func Conflict(msg, hint string, cause error) error { return &Error{KindConflict, msg, hint, cause} }

// Describe is how a transport answers err: the HTTP status, the message and the hint.
// Unknown errors are the app's (500) and keep their message.
func Describe(err error) (status int, msg, hint string) {
	var e *Error
	if errors.As(err, &e) {
		return statusOf(e.Kind), e.Msg, e.Hint
	}
	var ce *CallError
	if errors.As(err, &ce) {
		status = http.StatusBadRequest
		if ce.NotFound {
			status = http.StatusNotFound
		}
		return status, ce.Msg, "The page and the server disagree about this call: reload the page (the app may have been updated)."
	}
	return http.StatusInternalServerError, err.Error(), ""
}

// Payload is a failed call as both transports hand it to the frontend: HTTP as the body
// {"error", "hint", "kind"} of a 4xx/5xx, Wails as this JSON in the rejected promise's
// message (see WailsError). The client turns either into one RpcError.
type Payload struct {
	Message string `json:"message"`
	Hint    string `json:"hint,omitempty"`
	Kind    Kind   `json:"kind"`
}

// PayloadOf describes err for the frontend.
func PayloadOf(err error) Payload {
	status, msg, hint := Describe(err)
	return Payload{Message: msg, Hint: hint, Kind: KindOf(status)}
}

// KindOf is the kind a transport status stands for.
func KindOf(status int) Kind {
	switch status {
	case http.StatusBadRequest:
		return KindInvalid
	case http.StatusNotFound:
		return KindNotFound
	case http.StatusConflict:
		return KindConflict
	}
	return KindInternal
}

// WailsError is the desktop window's options.App.ErrorFormatter. Wails rejects a bound
// call with new Error(<what this returns>), and an object would arrive as
// "[object Object]", so the payload travels as a JSON string the client parses.
func WailsError(err error) any {
	b, merr := json.Marshal(PayloadOf(err))
	if merr != nil { // cannot happen for strings; keep the text rather than lose it
		return err.Error()
	}
	return string(b)
}

func statusOf(k Kind) int {
	switch k {
	case KindInvalid:
		return http.StatusBadRequest
	case KindNotFound:
		return http.StatusNotFound
	case KindConflict:
		return http.StatusConflict
	}
	return http.StatusInternalServerError
}
