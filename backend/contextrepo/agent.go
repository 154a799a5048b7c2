package contextrepo

import (
	"fmt"
	"strings"
)

// Paths the agent sees inside the sandbox.
const (
	// MemoryDir is the agent's own memory (Claude Code's autoMemoryDirectory): the
	// personal repository's memory/ folder, promoted like any personal change.
	MemoryDir = ContainerRoot + "/personal/memory"
	// TeamMemoryDir is team memory in the notes repository (index MEMORY.md).
	TeamMemoryDir = ContainerRoot + "/notes/memory"
)

// PromoteCommand is the command the agent runs inside a sandbox to promote its context
// (served on the host by Store.Promote for the calling loop).
const PromoteCommand = "loopat-host promote"

// AgentInstructions is the paragraph for the agent's instructions (CLAUDE.md) that
// explains the context repositories and how to hand changes back.
const AgentInstructions = `## Context (loopat)
Shared context is mounted under /loopat/context, each folder a git clone on this loop's branch:
- knowledge/: curated team knowledge (read-only unless this is a distill loop).
- notes/: team notes; team memory in notes/memory (index MEMORY.md); boards in notes/focus/boards.
- personal/: the user's private repository; your memory directory is personal/memory.
Write there like any files (committing is optional). Nothing leaves this loop until it is promoted:
run ` + "`" + PromoteCommand + "`" + ` (or ask the user to press Promote). Notes and personal changes are merged
into the shared branch; knowledge changes become a proposal the user reviews. If promote reports a
conflict, your version is kept: in that folder run ` + "`git merge origin/main`" + ` (the promote fetched it), resolve the
listed files, and promote again (committing the merge is optional).
`

// Summary renders a promote result as short text for the agent or a log.
func (r PromoteResult) Summary() string {
	var b strings.Builder
	for _, x := range r.Repos {
		switch x.Status {
		case Promoted:
			fmt.Fprintf(&b, "%s: promoted (%d file(s))\n", x.Repo, len(x.Files))
		case Proposed:
			fmt.Fprintf(&b, "%s: proposed for review as %s (%d file(s))\n", x.Repo, ProposalBranch(r.LoopID), len(x.Files))
		case Unchanged:
			fmt.Fprintf(&b, "%s: nothing to promote\n", x.Repo)
		case Conflict:
			fmt.Fprintf(&b, "%s: CONFLICT in %s; your version is kept on %s, nothing was pushed to the shared branch\n",
				x.Repo, strings.Join(x.Files, ", "), LoopBranch(r.LoopID))
		default:
			fmt.Fprintf(&b, "%s: failed: %s\n", x.Repo, x.Error)
		}
	}
	return b.String()
}
