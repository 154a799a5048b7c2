package rpc

import (
	"errors"
	"fmt"
	"net/http"
	"testing"
)

func TestDescribeMapsKindsTo4xxAndKeepsTheHint(t *testing.T) {
	cause := errors.New("cause")
	cases := []struct {
		err    error
		status int
		msg    string
		hint   string
	}{
		{Invalid("The message is empty.", "Type something first.", nil), http.StatusBadRequest, "The message is empty.", "Type something first."},
		{fmt.Errorf("wrapped: %w", NotFound("No such loop.", "", cause)), http.StatusNotFound, "No such loop.", ""},
		{Conflict("This loop is archived.", "Unarchive it to continue.", cause), http.StatusConflict, "This loop is archived.", "Unarchive it to continue."},
		{&CallError{Msg: "argument 1: bad"}, http.StatusBadRequest, "argument 1: bad", ""},
		{&CallError{NotFound: true, Msg: "unknown method"}, http.StatusNotFound, "unknown method", ""},
		{errors.New("disk full"), http.StatusInternalServerError, "disk full", ""},
	}
	for _, c := range cases {
		status, msg, hint := Describe(c.err)
		if status != c.status || msg != c.msg || (c.hint != "" && hint != c.hint) {
			t.Errorf("Describe(%v) = %d %q %q, want %d %q %q", c.err, status, msg, hint, c.status, c.msg, c.hint)
		}
	}
	if !errors.Is(Conflict("x", "", cause), cause) {
		t.Error("the cause is lost")
	}
}
