package services

import (
	"strings"
	"unicode/utf8"
)

// UntitledLoop is the title of a loop created without one; its first message replaces it
// (as Conductor and Claude Code name a session after its first prompt).
const UntitledLoop = "New loop"

// maxAutoTitle caps a title taken from a message, in characters.
const maxAutoTitle = 60

// titleFromMessage is the first non-empty line of text without markdown markers, with
// runs of white space as one space, cut at a word before maxAutoTitle characters.
func titleFromMessage(text string) string {
	line := ""
	for _, l := range strings.Split(text, "\n") {
		l = strings.TrimLeft(strings.TrimSpace(l), "#>*-` ")
		if l = strings.Join(strings.Fields(l), " "); l != "" {
			line = l
			break
		}
	}
	if utf8.RuneCountInString(line) <= maxAutoTitle {
		return line
	}
	cut := string([]rune(line)[:maxAutoTitle-1])
	if i := strings.LastIndexByte(cut, ' '); i > maxAutoTitle/2 {
		cut = cut[:i]
	}
	return strings.TrimRight(cut, " ,.;:") + "…"
}

// nameAfterFirstMessage gives an untitled loop the title of the message just sent. A
// loop the user named keeps its name.
func (s *LoopService) nameAfterFirstMessage(id, text string) {
	meta, err := s.m.Get(id)
	if err != nil || meta.Title != UntitledLoop {
		return
	}
	if t := titleFromMessage(text); t != "" {
		_ = s.m.Rename(id, t) // best effort: the message was sent either way
	}
}
