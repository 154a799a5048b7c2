//go:build !unix

package logging

const noFollow = 0
