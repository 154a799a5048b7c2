package core

import (
	"fmt"
	"net"

	"github.com/loopat/desktop/backend/config"
	"github.com/loopat/desktop/backend/events"
	"github.com/loopat/desktop/backend/hostexec"
	"github.com/loopat/desktop/backend/link"
	"github.com/loopat/desktop/backend/ports"
)

// openPorts wires port forwarding: every link carries its loop's port reports
// (link.TagPorts, hostile, only that loop's forwards change) and the host opens
// link.TagForward streams on the loop's current link for each forwarded connection.
func (c *Core) openPorts() *ports.Manager {
	pm := ports.New(ports.Options{
		LoopsDir: c.Workspace.LoopsDir(),
		Config:   func() config.Ports { return c.Live.Get().Ports },
		Open: func(loopID string) (net.Conn, error) {
			sess := c.HostExec.Link(loopID)
			if sess == nil {
				return nil, fmt.Errorf("loop %s has no host link", loopID)
			}
			return sess.Open(link.TagForward)
		},
		Changed: func(loopID string, fs []ports.Forward) {
			c.Bus.Publish(events.LoopTopic(loopID, events.LoopPorts), fs)
		},
		Log: c.Log.With("component", "ports"),
	})
	c.Ports = pm
	// [ports] edited in Settings or config.toml applies to running loops at once.
	unsubscribe := c.Live.Subscribe(func(old, cur config.Config) {
		if old.Ports != cur.Ports {
			pm.Reconfigure()
		}
	})
	c.closers = append(c.closers, func() error { unsubscribe(); return nil }, pm.Close)
	c.HostExec.HandleTag(link.TagPorts, hostexec.TagHandler{Name: "port report streams",
		Serve: pm.ServeConn, Max: ports.MaxStreams, Refuse: pm.Refuse})
	return pm
}
