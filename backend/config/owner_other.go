//go:build !unix

package config

import "io/fs"

const noFollow = 0

// ownerUID is unknown here (no unix owners); the other checks still apply.
func ownerUID(fs.FileInfo) (int, bool) { return 0, false }
