package rpc

import (
	"encoding/json"
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

// The desktop transport carries the same message, hint and kind as HTTP's status and body.
func TestWailsErrorCarriesMessageHintAndKind(t *testing.T) {
	for _, c := range []struct {
		err  error
		want Payload
	}{
		{fmt.Errorf("save: %w", Invalid("The file mode 999 is not valid.", "Use an octal mode such as 0600.", nil)),
			Payload{"The file mode 999 is not valid.", "Use an octal mode such as 0600.", KindInvalid}},
		{NotFound("No such loop.", "", nil), Payload{"No such loop.", "", KindNotFound}},
		{Conflict("This loop is archived.", "Unarchive it.", nil), Payload{"This loop is archived.", "Unarchive it.", KindConflict}},
		{&CallError{NotFound: true, Msg: "unknown method X.Y"}, Payload{"unknown method X.Y", PayloadOf(&CallError{NotFound: true}).Hint, KindNotFound}},
		{errors.New(`disk "full"`), Payload{`disk "full"`, "", KindInternal}},
	} {
		s, ok := WailsError(c.err).(string)
		if !ok {
			t.Fatalf("WailsError(%v) is not a string: Wails would show [object Object]", c.err)
		}
		var got Payload
		if err := json.Unmarshal([]byte(s), &got); err != nil {
			t.Fatalf("WailsError(%v) = %q: not JSON: %v", c.err, s, err)
		}
		if got != c.want {
			t.Errorf("WailsError(%v) = %+v, want %+v", c.err, got, c.want)
		}
	}
}
