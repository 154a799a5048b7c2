// A turn's "working" status is saved off the message's path: meta.json is written with
// two fsyncs (2 ms quiet, 20 ms and more on a loaded disk), which a later turn's first
// token used to wait for.

package loops

// setStatusBehind publishes status at once and saves it in the background. Every later
// setStatus of the loop waits for that save first (awaitStatusWrite), so a status the
// agent's answer sets (which can only come after the message this precedes) is still
// saved last; saves behind one another keep their order too.
func (m *Manager) setStatusBehind(id, status string) {
	done := make(chan struct{})
	prev, _ := m.statusWrites.Swap(id, done)
	m.publishStatus(id, status, "")
	save := func() {
		defer func() {
			m.statusWrites.CompareAndDelete(id, done)
			close(done)
		}()
		if p, ok := prev.(chan struct{}); ok {
			<-p
		}
		if _, err := m.store.Update(id, func(x *Meta) { x.Status = status }); err != nil {
			m.log.Warn("save loop status", "loop", id, "err", err)
		}
	}
	if !m.spawn(save) {
		save() // closing: no goroutine may start
	}
}

// awaitStatusWrite waits for a status save setStatusBehind left running for id.
func (m *Manager) awaitStatusWrite(id string) {
	if v, ok := m.statusWrites.Load(id); ok {
		<-v.(chan struct{})
	}
}
