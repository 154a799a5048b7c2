//go:build !linux && !darwin

package vault

import (
	"errors"
	"os"
)

func isTerminal(*os.File) bool { return false }

func readHidden(*os.File) (string, error) {
	return "", errors.New("hidden terminal input is not supported on this OS; pipe the value on stdin")
}
