//go:build integration

package loops

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"image"
	"image/color"
	"image/png"
	"slices"
	"strings"
	"testing"
	"time"
)

func tinyPNG(t *testing.T) string {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 2, 2))
	img.Set(0, 0, color.RGBA{R: 255, A: 255})
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(b.Bytes())
}

// The composer against the real CLI and the mock API: an image sent with a message
// reaches the model as an image content block; the CLI's init commands and the usage
// it reports reach the composer; New session starts a conversation without the earlier
// turns (no --resume) and marks the transcript.
func TestComposerImageCommandsAndNewSessionWithRealCLI(t *testing.T) {
	h := newHarness(t)
	m := h.manager()
	meta, err := m.Create(CreateRequest{Title: "composer"})
	if err != nil {
		t.Fatal(err)
	}
	srv := h.startMock(m, meta.ID)
	data := tinyPNG(t)
	if _, err := m.SendWithImages(meta.ID, "what is in this picture", []ImageAttachment{{MediaType: "image/png", Data: data}}); err != nil {
		t.Fatal(err)
	}
	waitTurn(t, m, meta.ID, 2*time.Minute)
	reqs := srv.MessagesRequests()
	found := false
	for _, r := range reqs {
		var body struct {
			Messages []struct {
				Role    string          `json:"role"`
				Content json.RawMessage `json:"content"`
			} `json:"messages"`
		}
		_ = json.Unmarshal(r.Body, &body)
		for _, msg := range body.Messages {
			var blocks []struct {
				Type   string `json:"type"`
				Source struct {
					Type      string `json:"type"`
					MediaType string `json:"media_type"`
					Data      string `json:"data"`
				} `json:"source"`
			}
			if msg.Role != "user" || json.Unmarshal(msg.Content, &blocks) != nil {
				continue
			}
			for _, b := range blocks {
				if b.Type == "image" && b.Source.Type == "base64" && b.Source.MediaType == "image/png" && b.Source.Data == data {
					found = true
				}
			}
		}
	}
	if !found {
		_, all := transcript(t, m, meta.ID)
		t.Fatalf("no image content block reached the model API in %d requests\n%s", len(reqs), all)
	}

	st, err := m.Composer(meta.ID)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("the CLI's commands: %q; context %+v", st.Commands, st.Context)
	if len(st.Commands) == 0 || !slices.Contains(st.Commands, "compact") {
		t.Fatalf("slash commands from the CLI's init: %q", st.Commands)
	}
	if st.Context.Used <= 0 || st.Context.Window <= 0 {
		t.Fatalf("context usage not taken from the CLI's messages: %+v", st.Context)
	}
	h1, _ := m.History(meta.ID)
	if !slices.Equal(h1, []string{"what is in this picture"}) {
		t.Fatalf("history: %q", h1)
	}

	// New session: the next turn's request carries only the new message.
	before, _ := m.Get(meta.ID)
	if err := m.NewSession(meta.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Send(meta.ID, "fresh start"); err != nil {
		t.Fatal(err)
	}
	waitTurn(t, m, meta.ID, 2*time.Minute)
	reqs = srv.MessagesRequests()
	last := string(reqs[len(reqs)-1].Body)
	if strings.Contains(last, data) || strings.Contains(last, "what is in this picture") || !strings.Contains(last, "fresh start") {
		t.Fatalf("the new session's request still carries the earlier conversation:\n%.2000s", last)
	}
	after, _ := m.Get(meta.ID)
	if after.SessionID == "" || after.SessionID == before.SessionID {
		t.Fatalf("session id %q after New session (was %q)", after.SessionID, before.SessionID)
	}
	if types := transcriptTypes(t, m, meta.ID); !slices.Contains(types, "session_divider") {
		t.Fatalf("no divider in the transcript: %q", types)
	}
}
