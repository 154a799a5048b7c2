package contextrepo

import (
	"context"
	"log/slog"
	"net"
	"strings"
	"time"

	"github.com/loopat/desktop/backend/contextrepo/promotewire"
)

// PromoteStreams serves `loopat-host promote` from inside sandboxes (the link's
// promote streams, hostexec.Server.HandlePromote): each stream promotes the loop whose
// link carried it, never a loop named by the sandbox, which sends nothing.
type PromoteStreams struct {
	Store *Store
	// Ctx bounds every promote (the app's lifetime).
	Ctx context.Context
	// Scrub masks secrets in the error text sent back into the sandbox (nil: none).
	Scrub func(string) string
	// Changed is told each repository a promote touched (nil: nobody).
	Changed func(repo string)
	Log     *slog.Logger
	// Timeout bounds one promote (default 5 minutes).
	Timeout time.Duration
}

// ServeConn runs Promote for loopID and answers on conn.
func (p PromoteStreams) ServeConn(loopID string, conn net.Conn) {
	defer conn.Close()
	timeout := p.Timeout
	if timeout <= 0 {
		timeout = 5 * time.Minute
	}
	ctx, cancel := context.WithTimeout(p.Ctx, timeout)
	defer cancel()
	res, err := p.Store.Promote(ctx, loopID)
	rep := promotewire.Reply{Summary: res.Summary(), Conflict: res.Conflicts()}
	for _, r := range res.Repos {
		if p.Changed != nil {
			p.Changed(r.Repo)
		}
		rep.Failed = rep.Failed || r.Status == Failed
	}
	if err != nil {
		rep.Error = err.Error()
		if p.Scrub != nil {
			rep.Error = p.Scrub(rep.Error)
		}
	}
	log := p.Log
	if log == nil {
		log = slog.Default()
	}
	log.Info("promote from the sandbox", "loop", loopID, "summary", strings.TrimSpace(rep.Summary), "err", rep.Error)
	if err := promotewire.Write(conn, rep); err != nil {
		log.Warn("promote reply", "loop", loopID, "err", err)
	}
}

// Refuse answers a promote stream past the loop's cap (one at a time).
func (PromoteStreams) Refuse(conn net.Conn, reason string) { promotewire.Refuse(conn, reason) }
