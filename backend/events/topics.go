package events

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
	LoopPorts    = "ports" // []ports.Forward: the loop's detected and forwarded ports
)

// What a per-terminal topic is about: TermTopic(id, TermData) = "term:<id>:data".
const (
	TermData = "data"
	TermExit = "exit"
)

// LoopTopic is the topic of what happens to loop id ("loop:<id>:<what>").
func LoopTopic(id, what string) string { return "loop:" + id + ":" + what }

// TermTopic is the topic of terminal id ("term:<id>:<what>").
func TermTopic(id, what string) string { return "term:" + id + ":" + what }

// ContextChanged is the payload of TopicContextChanged.
type ContextChanged struct {
	Repo string `json:"repo"`
}
