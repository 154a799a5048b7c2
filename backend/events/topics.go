package events

import "strings"

// Topics of the bus, named once. A topic is "<area>:<what>"; per-loop and per-terminal
// topics carry their id in the middle (LoopTopic, TermTopic). The frontend subscribes to
// the same strings (frontend/src/api).
const (
	TopicEngineState       = "engine:state"
	TopicMachineProgress   = "machine:progress"
	TopicImageProgress     = "image:progress"
	TopicLoopsChanged      = "loops:changed"
	TopicContextChanged    = "context:changed"
	TopicKanbanChanged     = "kanban:changed"
	TopicVaultChanged      = "vault:changed"
	TopicConfigChanged     = "config:changed"
	TopicUninstallProgress = "uninstall:progress"
	TopicUninstallDone     = "uninstall:done"
	TopicAppOpenLoop       = "app:open-loop"
)

// What a per-loop topic is about: LoopTopic(id, LoopMessage) = "loop:<id>:message".
const (
	LoopMessage  = "message"
	LoopDelta    = "delta"
	LoopStatus   = "status"
	LoopQueue    = "queue"
	LoopHostExec = "hostexec"
	LoopPorts    = "ports"   // []ports.Forward: the loop's detected and forwarded ports
	LoopPending  = "pending" // the loop's open questions, permission requests and plans
)

// What a per-terminal topic is about: TermTopic(id, TermData) = "term:<id>:data".
const (
	TermData = "data"
	TermExit = "exit"
)

// LoopTopic is the topic of what happens to loop id ("loop:<id>:<what>").
func LoopTopic(id, what string) string { return "loop:" + id + ":" + what }

// ParseLoopTopic splits a per-loop topic into its loop id and what it is about; ok is
// false for any other topic, and for ids that are empty or hold a ':' (ids never do, so
// such a topic cannot be one LoopTopic made).
func ParseLoopTopic(topic string) (id, what string, ok bool) {
	rest, ok := strings.CutPrefix(topic, "loop:")
	if !ok {
		return "", "", false
	}
	i := strings.LastIndexByte(rest, ':')
	if i <= 0 || strings.Contains(rest[:i], ":") || i == len(rest)-1 {
		return "", "", false
	}
	return rest[:i], rest[i+1:], true
}

// TermTopic is the topic of terminal id ("term:<id>:<what>").
func TermTopic(id, what string) string { return "term:" + id + ":" + what }

// ContextChanged is the payload of TopicContextChanged.
type ContextChanged struct {
	Repo string `json:"repo"`
}
