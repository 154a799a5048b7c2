package workdir

import (
	"errors"
)

// ErrAlreadyRepo: Init on a workdir that already has a repository.
var ErrAlreadyRepo = errors.New("the workdir is already a git repository")

// Init makes a plain workdir a git repository (the Git tab's "Start a repository"), in
// process over the confined tree like Commit. A .git the loop planted (a link, a
// "gitdir:" file, a foreign owner) is refused as it is by every other Git operation, and
// an existing repository is left alone.
func Init(root string) (Status, error) {
	t, err := open(root)
	if err != nil {
		return Status{}, err
	}
	defer t.Close()
	r, err := openRepo(t)
	switch {
	case err == nil:
		return Status{}, ErrAlreadyRepo
	case !errors.Is(err, errNoRepo):
		return Status{}, err
	}
	if r, err = initRepo(t); err != nil {
		return Status{}, err
	}
	return repoStatus(r)
}
