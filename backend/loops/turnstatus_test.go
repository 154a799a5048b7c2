package loops

import (
	"fmt"
	"testing"
	"time"
)

// The "working" save runs behind the message; an agent that answers at once must still
// leave the loop saved idle, turn after turn (the answer's status is saved last).
func TestWorkingSavedBehindNeverOutlivesTheAnswer(t *testing.T) {
	m, id, _ := managerWithFakeAgent(t, time.Second, 0)
	for i := 0; i < 40; i++ {
		if _, err := m.Send(id, fmt.Sprintf("turn %d", i)); err != nil {
			t.Fatal(err)
		}
		waitIdle(t, m, id, 10*time.Second)
		m.awaitStatusWrite(id)
		meta, err := m.Get(id)
		if err != nil {
			t.Fatal(err)
		}
		if meta.Status != StatusIdle {
			t.Fatalf("turn %d ended saved as %q, want idle", i, meta.Status)
		}
	}
}
