//go:build integration

package core_test

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"

	"github.com/loopat/desktop/backend/contextrepo"
	"github.com/loopat/desktop/backend/loops"
)

// agentSh runs script as the agent (uid 2000) in its loop container and returns its
// output whatever the exit status (attacks may fail half-way; what counts is the host).
func agentSh(t *testing.T, container, script string) string {
	t.Helper()
	out, _ := exec.Command("podman", "exec", "--user", "2000", "-w", "/loopat/context/notes", container, "sh", "-c", script).CombinedOutput()
	return string(out)
}

// promoteFromSandbox runs `loopat-host promote` as the agent: the path the agent uses
// (the Promote button calls the same Store.Promote for the loop).
func promoteFromSandbox(t *testing.T, container string) string {
	t.Helper()
	return agentSh(t, container, "loopat-host promote; echo rc=$?")
}

func fileHash(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// originFiles lists path -> content of the notes origin's main branch.
func originFiles(t *testing.T, dir string) (plumbing.Hash, map[string]string) {
	t.Helper()
	g, err := git.PlainOpen(dir)
	if err != nil {
		t.Fatal(err)
	}
	ref, err := g.Reference("refs/heads/main", true)
	if err != nil {
		t.Fatal(err)
	}
	c, err := g.CommitObject(ref.Hash())
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]string{}
	iter, err := c.Files()
	if err != nil {
		t.Fatal(err)
	}
	_ = iter.ForEach(func(f *object.File) error {
		s, _ := f.Contents()
		files[f.Name] = s
		return nil
	})
	return ref.Hash(), files
}

// The agent attacks the promote edge from inside its real loop container through its
// context clone (notes): repository config that runs commands (fsmonitor, filter and
// merge drivers with .gitattributes, include.path, core.worktree, hooks), .git replaced
// by a gitdir file pointing at a host repository, alternates, a symlink committed to
// /etc/passwd or ../../.., symlinks planted inside .git pointing at host objects.
// Promote (loopat-host promote, the same Store.Promote the Promote button runs) must
// run none of it, read nothing outside, push nothing from outside, name what it
// refused, and keep the loop's work.
func TestHostilePromoteFromLoopContainer(t *testing.T) {
	f := newCoreFixture(t)
	c := f.open()
	if err := c.Vault.SetEnv("default", "MOCK_KEY", f.realKey); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Vault.DeleteEnv("default", "MOCK_KEY") })
	a, err := c.Loops.Create(loops.CreateRequest{Title: "hostile promote"})
	if err != nil {
		t.Fatal(err)
	}
	turn(t, c, a.ID, "hello") // starts the container and its link
	name := c.Loops.Sandbox().ContainerName(a.ID)
	loopDir := c.Context.LoopDir(a.ID, contextrepo.Notes)
	origin := c.Context.OriginDir(contextrepo.Notes)

	// Host-side things an attacker would aim at.
	host := t.TempDir()
	marker := filepath.Join(host, "pwned")
	victim := filepath.Join(host, "victim")
	vg, err := git.PlainInit(victim, false)
	if err != nil {
		t.Fatal(err)
	}
	secret := "host-secret-" + randHex(8)
	if err := os.WriteFile(filepath.Join(victim, "secret.txt"), []byte(secret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	vw, _ := vg.Worktree()
	if _, err := vw.Add("secret.txt"); err != nil {
		t.Fatal(err)
	}
	secretBlob := plumbing.ComputeHash(plumbing.BlobObject, []byte(secret+"\n"))
	if _, err := vw.Commit("victim", &git.CommitOptions{Author: &object.Signature{Name: "v", Email: "v@v"}}); err != nil {
		t.Fatal(err)
	}
	victimHead, _ := vg.Head()
	inc := filepath.Join(host, "inc.cfg")
	if err := os.WriteFile(inc, []byte("[core]\n\tfsmonitor = touch "+marker+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	passwdHash := fileHash(t, "/etc/passwd")
	victimFiles := map[string]string{
		filepath.Join(victim, "secret.txt"):                               fileHash(t, filepath.Join(victim, "secret.txt")),
		filepath.Join(victim, ".git", "HEAD"):                             fileHash(t, filepath.Join(victim, ".git", "HEAD")),
		filepath.Join(victim, ".git", "config"):                           fileHash(t, filepath.Join(victim, ".git", "config")),
		filepath.Join(c.Context.Dir(contextrepo.Notes), ".git", "config"): fileHash(t, filepath.Join(c.Context.Dir(contextrepo.Notes), ".git", "config")),
	}
	hostUntouched := func(step string) {
		t.Helper()
		if _, err := os.Lstat(marker); err == nil {
			t.Fatalf("%s: a command planted by the loop ran on the host (marker %s exists)", step, marker)
		}
		if fileHash(t, "/etc/passwd") != passwdHash {
			t.Fatalf("%s: /etc/passwd changed", step)
		}
		for p, h := range victimFiles {
			if fileHash(t, p) != h {
				t.Fatalf("%s: %s changed", step, p)
			}
		}
		if h, _ := vg.Head(); h.Hash() != victimHead.Hash() {
			t.Fatalf("%s: the victim repository's HEAD moved", step)
		}
		_, files := originFiles(t, origin)
		for p, content := range files {
			if strings.Contains(content, secret) || strings.Contains(content, "root:x:0:0") {
				t.Fatalf("%s: host content reached the origin in %s", step, p)
			}
		}
		og, _ := git.PlainOpen(origin)
		if _, err := og.BlobObject(secretBlob); err == nil {
			t.Fatalf("%s: the victim's secret blob reached the origin", step)
		}
	}

	// The loop's own work, which must survive every refused promote.
	agentSh(t, name, `mkdir -p memory && echo "the loop's work" > memory/work.md`)
	// Someone else moves the origin on, so promote needs a real three-way merge.
	if _, err := c.Context.Write(contextrepo.Notes, "memory/other.md", "from the user\n"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Context.Push(t.Context(), contextrepo.Notes); err != nil {
		t.Fatal(err)
	}

	t.Run("config that runs commands", func(t *testing.T) {
		out := agentSh(t, name, `set -e
cat >> .git/config <<EOF
[core]
	fsmonitor = touch `+marker+`
	worktree = `+host+`
	hooksPath = .git/hooks
[filter "evil"]
	clean = touch `+marker+`
	smudge = touch `+marker+`
	process = touch `+marker+`
[merge "evil"]
	driver = touch `+marker+`
[diff "evil"]
	textconv = touch `+marker+`
[include]
	path = `+inc+`
EOF
printf '* filter=evil merge=evil diff=evil\n' > .gitattributes
mkdir -p .git/hooks && printf '#!/bin/sh\ntouch `+marker+`\n' > .git/hooks/post-merge && chmod +x .git/hooks/post-merge
cp .git/hooks/post-merge .git/hooks/pre-commit
echo planted`)
		if !strings.Contains(out, "planted") {
			t.Fatalf("planting config: %s", out)
		}
		pr := promoteFromSandbox(t, name)
		t.Logf("promote: %s", pr)
		hostUntouched("config")
		if !strings.Contains(pr, "notes: promoted") || !strings.Contains(pr, "rc=0") {
			t.Fatalf("promote with a hostile config (ignored by the host) should still promote: %s", pr)
		}
		_, files := originFiles(t, origin)
		if files["memory/work.md"] != "the loop's work\n" || files["memory/other.md"] != "from the user\n" {
			t.Fatalf("origin after the merge: %v", files)
		}
		// The merge reached the loop's clone (written by the host through os.Root).
		if b, err := os.ReadFile(filepath.Join(loopDir, "memory", "other.md")); err != nil || string(b) != "from the user\n" {
			t.Errorf("merge result not in the loop clone: %q %v", b, err)
		}
		agentSh(t, name, `git config --remove-section filter.evil; git config --remove-section merge.evil; git config --remove-section diff.evil; git config --remove-section include; git config --unset core.fsmonitor; git config --unset core.worktree; git config --unset core.hooksPath; rm -f .git/hooks/post-merge .git/hooks/pre-commit`)
		agentSh(t, name, `echo "more work" >> memory/work.md`)
	})

	t.Run("gitdir file pointing at a host repository", func(t *testing.T) {
		agentSh(t, name, `mv .git .git-real && printf 'gitdir: `+filepath.Join(victim, ".git")+`\n' > .git`)
		pr := promoteFromSandbox(t, name)
		t.Logf("promote: %s", pr)
		hostUntouched("gitdir")
		if !strings.Contains(pr, "rc=1") || !strings.Contains(pr, "notes: failed") || !strings.Contains(pr, ".git is not a folder") {
			t.Fatalf("gitdir file not refused clearly: %s", pr)
		}
		agentSh(t, name, `rm .git && mv .git-real .git`)
	})

	t.Run("symlinked .git", func(t *testing.T) {
		agentSh(t, name, `mv .git .git-real && ln -s `+filepath.Join(victim, ".git")+` .git`)
		pr := promoteFromSandbox(t, name)
		t.Logf("promote: %s", pr)
		hostUntouched("symlinked .git")
		if !strings.Contains(pr, "rc=1") || !strings.Contains(pr, ".git is a symlink") {
			t.Fatalf("symlinked .git not refused clearly: %s", pr)
		}
		agentSh(t, name, `rm .git && mv .git-real .git`)
	})

	t.Run("alternates", func(t *testing.T) {
		agentSh(t, name, `mkdir -p .git/objects/info && echo `+filepath.Join(victim, ".git", "objects")+` > .git/objects/info/alternates`)
		pr := promoteFromSandbox(t, name)
		t.Logf("promote: %s", pr)
		hostUntouched("alternates")
		if !strings.Contains(pr, "rc=1") || !strings.Contains(pr, "objects/info/alternates") {
			t.Fatalf("alternates not refused clearly: %s", pr)
		}
		agentSh(t, name, `rm .git/objects/info/alternates`)
	})

	t.Run("symlinks inside .git to host objects", func(t *testing.T) {
		// A commit whose tree names the victim's secret blob (missing here), and the
		// blob's object folder symlinked to the victim's: following it would push the secret.
		d := secretBlob.String()[:2]
		out := agentSh(t, name, `set -e
T=$(printf '100644 blob `+secretBlob.String()+`\tleak.txt\n' | git mktree --missing)
C=$(git -c user.name=a -c user.email=a@a commit-tree -p HEAD -m leak "$T")
git update-ref refs/heads/loop/`+a.ID+` "$C"
rm -rf .git/objects/`+d+` && ln -s `+filepath.Join(victim, ".git", "objects", d)+` .git/objects/`+d+`
echo planted`)
		if !strings.Contains(out, "planted") {
			t.Fatalf("planting: %s", out)
		}
		pr := promoteFromSandbox(t, name)
		t.Logf("promote: %s", pr)
		hostUntouched(".git symlinks")
		if !strings.Contains(pr, "rc=1") || !strings.Contains(pr, "notes: failed") || !strings.Contains(pr, "escapes") {
			t.Fatalf("object behind a symlink out not refused clearly: %s", pr)
		}
		agentSh(t, name, `rm .git/objects/`+d+` && git update-ref refs/heads/loop/`+a.ID+` HEAD~1 && git reset -q`)
	})

	t.Run("symlinks to /etc/passwd and ../../..", func(t *testing.T) {
		for _, target := range []string{"/etc/passwd", "../../../../../../../etc/passwd"} {
			out := agentSh(t, name, `set -e
ln -sfn `+target+` evil
git add evil && git -c user.name=a -c user.email=a@a commit -qm evil && echo committed`)
			if !strings.Contains(out, "committed") {
				t.Fatalf("commit: %s", out)
			}
			before, _ := originFiles(t, origin)
			pr := promoteFromSandbox(t, name)
			t.Logf("promote: %s", pr)
			hostUntouched("symlink " + target)
			if !strings.Contains(pr, "rc=1") || !strings.Contains(pr, `"evil"`) || !strings.Contains(pr, "outside the repository") {
				t.Fatalf("symlink evil -> %s not refused clearly: %s", target, pr)
			}
			if after, files := originFiles(t, origin); after != before || files["evil"] != "" {
				t.Fatalf("the origin moved on a refused promote")
			}
			// The loop's work is still there, committed on its branch.
			if got := agentSh(t, name, `git log -1 --format=%s; cat memory/work.md`); !strings.Contains(got, "evil") || !strings.Contains(got, "more work") {
				t.Fatalf("the loop's work after a refused promote: %s", got)
			}
			agentSh(t, name, `git reset -q HEAD~1 && rm -f evil`) // drops the commit, keeps the worktree
		}
		// The uncommitted variant: the worktree snapshot refuses it the same way.
		agentSh(t, name, `ln -sfn /etc/passwd leak.md`)
		pr := promoteFromSandbox(t, name)
		hostUntouched("worktree symlink")
		if !strings.Contains(pr, "rc=1") || !strings.Contains(pr, `"leak.md"`) {
			t.Fatalf("worktree symlink out not refused clearly: %s", pr)
		}
		agentSh(t, name, `rm leak.md`)
	})

	// Nothing lost: with the attacks removed, the loop's later work promotes.
	pr := promoteFromSandbox(t, name)
	if !strings.Contains(pr, "notes: promoted") || !strings.Contains(pr, "rc=0") {
		t.Fatalf("final promote: %s", pr)
	}
	hostUntouched("final")
	_, files := originFiles(t, origin)
	if files["memory/work.md"] != "the loop's work\nmore work\n" {
		t.Fatalf("the loop's work did not reach the origin: %q", files["memory/work.md"])
	}
}
