package loops

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/loopat/desktop/backend/agent"
	"github.com/loopat/desktop/backend/vault"
)

// FileSecrets yields a vault's file secrets with their values (vault.Vault implements
// it). When Options.Secrets also implements it, they are delivered into each loop.
type FileSecrets interface {
	Files(vault string) ([]vault.FileSecret, error)
}

// envFilePath is where a loop's env secrets live inside its container: in the
// SecretsDir tmpfs (memory only), 0600, owned by the sandbox user.
const envFilePath = SecretsDir + "/" + vault.EnvFile

// envWrapper loads the env file (when one was delivered) and becomes the command ("$@",
// same pid). Env secrets thus reach the agent and terminals without passing through
// ExecCreate's environment, which podman persists in its state database and exec
// specs on disk. The script is fixed: secret values are never part of any argv.
const envWrapper = `f="$0"
if [ -f "$f" ]; then . "$f" || { echo "loopat: could not load $f" >&2; exit 125; }; fi
exec "$@"`

// withSecretEnv wraps args so the process starts with the delivered env secrets.
func withSecretEnv(args []string) []string {
	return append([]string{"sh", "-c", envWrapper, envFilePath}, args...)
}

// deliverScript replaces the tmpfs content with the tar on stdin ($1 bytes: the exec
// stream cannot be half-closed, so the length marks its end) and points
// $HOME/<path> at each file. A symlink holds no value, so the host-side home never
// does; ssh accepts a symlinked key whose target is 0600. A real directory in the
// way is left alone (reported on stderr). The env file arrives under a temporary name
// and is renamed over the old one, so a process starting meanwhile reads either the
// old or the new file whole, never a missing or half-written one.
const deliverScript = `set -e
umask 077
d="$0"
n="$1"
e="$d/` + vault.EnvFile + `"
shift
find "$d" -mindepth 1 ! -path "$e" -delete
head -c "$n" | tar -x -p -m --no-same-owner -f - -C "$d"
if [ -f "$e.new" ]; then mv -f "$e.new" "$e"; fi
for p in "$@"; do
  t="$HOME/$p"
  if [ -d "$t" ] && [ ! -L "$t" ]; then echo "loopat: $t is a directory, file secret not linked" >&2; continue; fi
  mkdir -p "$(dirname "$t")"
  ln -sfn "$d/$p" "$t"
done`

// sandboxSecrets is what a loop's sandbox gets from its vault.
type sandboxSecrets struct {
	// plain is non-secret environment safe for ExecCreate (the gateway's route and
	// placeholder).
	plain []string
	// env is delivered through the env file: the vault's env secrets (no provider key
	// when a gateway serves the model, no host credential) and, without a gateway, the
	// provider key.
	env   map[string]string
	files []vault.FileSecret // no host credential
}

// deliverSecrets streams env and file secrets into the loop's running container (over
// exec stdin, into the SecretsDir tmpfs) and links the files from the home. It runs
// after every container start and before every agent start and terminal open, so a
// restarted container (empty tmpfs) and rotated values are covered. With nothing to
// deliver and nothing delivered before, it costs nothing.
func (m *Manager) deliverSecrets(ctx context.Context, id string, r *run, s sandboxSecrets) error {
	r.deliverMu.Lock()
	defer r.deliverMu.Unlock()
	r.mu.Lock()
	before := r.delivered
	r.mu.Unlock()
	if len(s.env) == 0 && len(s.files) == 0 && !before {
		return nil
	}
	if m.opt.Scrub != nil {
		for _, f := range s.files {
			m.opt.Scrub.Add(secretFragments(f.Value)...)
		}
	}
	envFile, err := vault.EnvScript(s.env)
	if err != nil {
		return fmt.Errorf("env secrets: %w", err)
	}
	archive, err := vault.TarSecrets(s.files, envFile, vault.EnvFile+".new", SandboxUID, SandboxUID)
	if err != nil {
		return err
	}
	args := []string{"sh", "-c", deliverScript, SecretsDir, strconv.Itoa(len(archive))}
	for _, f := range s.files {
		args = append(args, f.Path)
	}
	p, err := m.sb.Exec(ctx, id, agent.Command{Args: args, User: SandboxUser, WorkDir: SandboxHome,
		Env: []string{"HOME=" + SandboxHome}}, false, 0, 0)
	if err != nil {
		return fmt.Errorf("deliver secrets: %w", err)
	}
	var stderr bytes.Buffer
	read := make(chan struct{})
	go func() { _, _ = io.Copy(io.Discard, p.Stdout()) }()
	go func() { _, _ = io.Copy(&stderr, p.Stderr()); close(read) }()
	_, werr := p.Stdin().Write(archive)
	_ = p.Stdin().Close()
	code, err := p.Wait()
	<-read
	if err == nil && werr != nil {
		err = werr
	}
	if err != nil || code != 0 {
		msg := strings.TrimSpace(string(m.scrub(stderr.Bytes())))
		return fmt.Errorf("deliver secrets: exit %d: %v %s", code, err, msg)
	}
	if s := strings.TrimSpace(stderr.String()); s != "" {
		m.log.Warn("file secrets", "loop", id, "detail", string(m.scrub([]byte(s))))
	}
	r.mu.Lock()
	r.delivered = len(s.env) > 0 || len(s.files) > 0
	r.mu.Unlock()
	return nil
}

// secretFragments are what the scrubber learns from a file value: the whole value
// and each of its longer lines, so a partial print (head of a key) is masked too.
func secretFragments(value []byte) []string {
	out := []string{string(value)}
	for _, l := range strings.Split(string(value), "\n") {
		if l = strings.TrimSpace(l); len(l) >= 16 && !strings.HasPrefix(l, "-----") {
			out = append(out, l)
		}
	}
	return out
}
