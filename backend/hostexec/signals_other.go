//go:build !unix

package hostexec

func defaultSignalsForChildren() {}
