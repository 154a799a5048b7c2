// `loopat loop ...` against the running app: a loop's agent, its turns and its prompts
// live in the process that runs it, so a fresh process asks the app over its control
// socket (backend/control) and only opens the workspace itself when no app runs (two
// processes must not run agents for the same loops).

package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"github.com/loopat/desktop/backend/config"
	"github.com/loopat/desktop/backend/control"
	"github.com/loopat/desktop/backend/loops"
)

// remoteTimeout bounds one call to the app (an answer or a list is quick).
const remoteTimeout = 30 * time.Second

// dialApp connects to the app serving this workspace, or returns nil (no app, or a
// socket that is not private: said on stderr, and then not used).
func dialApp(env Env) (*control.Client, config.Workspace) {
	ws, err := config.ResolveWorkspace()
	if err != nil {
		return nil, ws
	}
	c, err := control.Dial(ws)
	if err != nil {
		if !errors.Is(err, control.ErrNoApp) {
			fmt.Fprintf(env.Stderr, "loopat: not using the app's control socket: %v\n", err)
		}
		return nil, ws
	}
	return c, ws
}

// remoteLoops is services.LoopService in the running app, called over its control socket.
type remoteLoops struct{ c *control.Client }

// remoteCLI is `loopat loop` over the running app's loops in workspace ws.
func remoteCLI(app *control.Client, ws config.Workspace) loopCLI {
	r := remoteLoops{app}
	return loopCLI{svc: r, wait: r.wait,
		workDir: func(id string) string { return filepath.Join(ws.LoopsDir(), id, "workdir") }}
}

// waitSlice is how long one WaitIdle call holds the socket; the wait itself is unbounded
// (as in-process) until ctx ends.
const waitSlice = 30

// wait is Manager.Wait in the app: long polls of LoopService.WaitIdle.
func (r remoteLoops) wait(ctx context.Context, id string) error {
	for {
		call, cancel := context.WithTimeout(ctx, (waitSlice+30)*time.Second)
		var idle bool
		err := r.c.Call(call, "LoopService", "WaitIdle", &idle, id, waitSlice)
		cancel()
		if err != nil {
			return err
		}
		if idle {
			return nil
		}
	}
}

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
