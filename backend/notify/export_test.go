package notify

// WatchWindows makes n tell f each time a loop's notification window ends (after the
// notification was sent or dropped). Call it right after Start, before any event.
func WatchWindows(n *Notifier, f func(id string)) { n.flushed = f }
