//go:build unix

package config

import (
	"io/fs"
	"syscall"
)

// noFollow makes opens fail on a symlink in the final path element.
const noFollow = syscall.O_NOFOLLOW

// ownerUID is the file's owner.
func ownerUID(fi fs.FileInfo) (int, bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, false
	}
	return int(st.Uid), true
}
