package images

import (
	"regexp"
	"strconv"
	"strings"
	"sync"

	"github.com/loopat/desktop/backend/events"
)

// Progress is one update of an image build, published on the bus as "image:progress" and
// handed to the caller's callback.
type Progress struct {
	Image   string `json:"image"`   // the tag being built
	Step    int    `json:"step"`    // current Containerfile step, 1-based; 0 before the first
	Total   int    `json:"total"`   // number of steps; 0 until known
	Line    string `json:"line"`    // the build output line this update is about
	Percent int    `json:"percent"` // 0-100, by finished steps
	Done    bool   `json:"done"`    // the build ended (successfully unless Err is set)
	Err     string `json:"err,omitempty"`
}

// ProgressTopic is the bus topic of build progress.
const ProgressTopic = events.TopicImageProgress

var stepLine = regexp.MustCompile(`^STEP (\d+)/(\d+): (.*)$`)

// tailLines is how many output lines a failed build reports.
const tailLines = 20

// progressParser turns the build's output stream into Progress updates and remembers the
// current step and the last lines for error reports. It is an io.Writer for BuildOptions.Out.
type progressParser struct {
	image string
	emit  func(Progress)

	mu      sync.Mutex
	partial string
	step    int
	total   int
	stepCmd string // "STEP n/m: ..." of the current step
	tail    []string
}

func newProgressParser(image string, emit func(Progress)) *progressParser {
	return &progressParser{image: image, emit: emit}
}

func (p *progressParser) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.partial += string(b)
	for {
		i := strings.IndexByte(p.partial, '\n')
		if i < 0 {
			break
		}
		line := strings.TrimRight(p.partial[:i], "\r")
		p.partial = p.partial[i+1:]
		p.line(line)
	}
	return len(b), nil
}

func (p *progressParser) line(line string) {
	if m := stepLine.FindStringSubmatch(line); m != nil {
		p.step, _ = strconv.Atoi(m[1])
		p.total, _ = strconv.Atoi(m[2])
		p.stepCmd = line
		p.tail = p.tail[:0] // the log tail of a failure belongs to its step
	}
	p.tail = append(p.tail, line)
	if len(p.tail) > tailLines {
		p.tail = p.tail[len(p.tail)-tailLines:]
	}
	if p.emit != nil {
		p.emit(Progress{Image: p.image, Step: p.step, Total: p.total, Line: line, Percent: p.percentLocked()})
	}
}

func (p *progressParser) percentLocked() int {
	if p.total <= 0 || p.step <= 0 {
		return 0
	}
	return (p.step - 1) * 100 / p.total
}

// flush handles a last line without a newline.
func (p *progressParser) flush() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if strings.TrimSpace(p.partial) != "" {
		p.line(p.partial)
	}
	p.partial = ""
}

// failure describes where a build failed: the step line and the log tail.
func (p *progressParser) failure() (step string, tail []string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stepCmd, append([]string(nil), p.tail...)
}

// finish emits the final update.
func (p *progressParser) finish(err error) {
	p.flush()
	p.mu.Lock()
	defer p.mu.Unlock()
	pr := Progress{Image: p.image, Step: p.step, Total: p.total, Done: true, Percent: 100}
	if err != nil {
		pr.Err = err.Error()
		pr.Percent = p.percentLocked()
		pr.Line = "build failed"
	} else {
		pr.Line = "build finished"
		if p.total > 0 {
			pr.Step = p.total
		}
	}
	if p.emit != nil {
		p.emit(pr)
	}
}

// BuildError is a failed image build: the step that failed and its last output lines.
type BuildError struct {
	Image string
	Step  string   // "STEP n/m: RUN ..." or "" when the build failed before any step
	Tail  []string // last output lines of that step
	Err   error
	// Hint says which setting fixes the failure, when it is recognised (TLSHint).
	Hint string
}

func (e *BuildError) Error() string {
	var b strings.Builder
	b.WriteString("build image ")
	b.WriteString(e.Image)
	if e.Step != "" {
		b.WriteString(" failed at ")
		b.WriteString(e.Step)
	}
	b.WriteString(": ")
	b.WriteString(e.Err.Error())
	if len(e.Tail) > 0 {
		b.WriteString("\n--- last output ---\n")
		b.WriteString(strings.Join(e.Tail, "\n"))
	}
	if e.Hint != "" {
		b.WriteString("\nHint: ")
		b.WriteString(e.Hint)
	}
	return b.String()
}

func (e *BuildError) Unwrap() error { return e.Err }
