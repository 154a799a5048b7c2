// `loopat loop ls|pending|answer` against the running app: a prompt lives in the process
// that runs the loop's agent, so a fresh process asks the app over its control socket
// (backend/control) and only falls back to opening the workspace itself when no app runs.

package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/loopat/desktop/backend/config"
	"github.com/loopat/desktop/backend/control"
	"github.com/loopat/desktop/backend/loops"
)

// loopRemoteCommands are answered by the running app when one serves the workspace.
var loopRemoteCommands = map[string]bool{"ls": true, "pending": true, "answer": true}

// remoteTimeout bounds one call to the app (an answer or a list is quick).
const remoteTimeout = 30 * time.Second

// dialApp connects to the app serving this workspace, or returns nil (no app, or a
// socket that is not private: said on stderr, and then not used).
func dialApp(env Env) *control.Client {
	ws, err := config.ResolveWorkspace()
	if err != nil {
		return nil
	}
	c, err := control.Dial(ws)
	if err != nil {
		if !errors.Is(err, control.ErrNoApp) {
			fmt.Fprintf(env.Stderr, "loopat: not using the app's control socket: %v\n", err)
		}
		return nil
	}
	return c
}

// remoteLoops is services.LoopService in the running app, called over its control socket.
type remoteLoops struct{ c *control.Client }

func (r remoteLoops) call(method string, out any, args ...any) error {
	ctx, cancel := context.WithTimeout(context.Background(), remoteTimeout)
	defer cancel()
	return r.c.Call(ctx, "LoopService", method, out, args...)
}

func (r remoteLoops) List() (out []loops.Meta, err error) {
	return out, r.call("List", &out)
}

func (r remoteLoops) Create(req loops.CreateRequest) (out loops.Meta, err error) {
	return out, r.call("Create", &out, req)
}

func (r remoteLoops) Delete(id string) error { return r.call("Delete", nil, id) }

func (r remoteLoops) Messages(id string) (out []json.RawMessage, err error) {
	return out, r.call("Messages", &out, id)
}

func (r remoteLoops) Send(id, text string) (out loops.SendResult, err error) {
	return out, r.call("Send", &out, id, text)
}

func (r remoteLoops) Pending(id string) (out []loops.Pending, err error) {
	return out, r.call("Pending", &out, id)
}

func (r remoteLoops) Answer(id, pendingID string, a loops.PendingAnswer) error {
	return r.call("Answer", nil, id, pendingID, a)
}
