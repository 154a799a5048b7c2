package services

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestTitleFromMessage(t *testing.T) {
	long := "Refactor the billing module so that invoices are generated per customer and not per order any more"
	for in, want := range map[string]string{
		"hello":                                "hello",
		"\n\n  # Fix   the\tlogin page \nmore": "Fix the login page",
		"> quoted ask":                         "quoted ask",
		long:                                   "Refactor the billing module so that invoices are generated…",
		"   \n ":                               "",
	} {
		got := titleFromMessage(in)
		if got != want {
			t.Errorf("titleFromMessage(%q) = %q, want %q", in, got, want)
		}
		if utf8.RuneCountInString(got) > maxAutoTitle {
			t.Errorf("%q is longer than %d", got, maxAutoTitle)
		}
	}
	// A word longer than the cap is cut inside it, still within the cap.
	if got := titleFromMessage(strings.Repeat("é", 100)); utf8.RuneCountInString(got) != maxAutoTitle || !strings.HasSuffix(got, "…") {
		t.Errorf("one long word = %q", got)
	}
}
