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

// deliverScript replaces the tmpfs content with the tar on stdin ($1 bytes: the exec
// stream cannot be half-closed, so the length marks its end) and points
// $HOME/<path> at each file. A symlink holds no value, so the host-side home never
// does; ssh accepts a symlinked key whose target is 0600. A real directory in the
// way is left alone (reported on stderr).
const deliverScript = `set -e
umask 077
d="$0"
n="$1"
shift
find "$d" -mindepth 1 -delete
head -c "$n" | tar -x -p -m --no-same-owner -f - -C "$d"
for p in "$@"; do
  t="$HOME/$p"
  if [ -d "$t" ] && [ ! -L "$t" ]; then echo "loopat: $t is a directory, file secret not linked" >&2; continue; fi
  mkdir -p "$(dirname "$t")"
  ln -sfn "$d/$p" "$t"
done`

// deliverFiles streams vaultName's file secrets into the loop's running container
// (over exec stdin, into the SecretsDir tmpfs) and links them from the home. It runs
// after every container start and agent start, so a restarted container (empty tmpfs)
// and rotated values are covered. With no file secrets and nothing delivered before,
// it costs nothing.
func (m *Manager) deliverFiles(ctx context.Context, id, vaultName string, r *run) error {
	fs, ok := m.opt.Secrets.(FileSecrets)
	if !ok {
		return nil
	}
	r.deliverMu.Lock()
	defer r.deliverMu.Unlock()
	files, err := fs.Files(vaultName)
	if err != nil {
		return fmt.Errorf("read file secrets of vault %q: %w", vaultName, err)
	}
	r.mu.Lock()
	before := r.filesDelivered
	r.mu.Unlock()
	if len(files) == 0 && !before {
		return nil
	}
	if m.opt.Scrub != nil {
		for _, f := range files {
			m.opt.Scrub.Add(secretFragments(f.Value)...)
		}
	}
	archive, err := vault.TarFiles(files, SandboxUID, SandboxUID)
	if err != nil {
		return err
	}
	args := []string{"sh", "-c", deliverScript, SecretsDir, strconv.Itoa(len(archive))}
	for _, f := range files {
		args = append(args, f.Path)
	}
	p, err := m.sb.Exec(ctx, id, agent.Command{Args: args, User: SandboxUser, WorkDir: SandboxHome,
		Env: []string{"HOME=" + SandboxHome}}, false, 0, 0)
	if err != nil {
		return fmt.Errorf("deliver file secrets: %w", err)
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
		return fmt.Errorf("deliver file secrets: exit %d: %v %s", code, err, msg)
	}
	if s := strings.TrimSpace(stderr.String()); s != "" {
		m.log.Warn("file secrets", "loop", id, "detail", string(m.scrub([]byte(s))))
	}
	r.mu.Lock()
	r.filesDelivered = len(files) > 0
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
