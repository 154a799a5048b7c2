//go:build !linux

package engine

import "syscall"

func serviceProcAttr() *syscall.SysProcAttr { return nil }
