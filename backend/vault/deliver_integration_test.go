//go:build integration

package vault

import (
	"bufio"
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/containers/podman/v5/pkg/api/handlers"
	"github.com/containers/podman/v5/pkg/bindings/containers"
	"github.com/containers/podman/v5/pkg/specgen"
	dockerContainer "github.com/docker/docker/api/types/container"
	spec "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/loopat/desktop/internal/testkit"
)

// File secrets reach a container's home (a tmpfs, so not the host's disk) through an
// exec's stdin, with their modes and owner.
func TestTarFilesIntoContainer(t *testing.T) {
	sock := testkit.StartPodmanService(t)
	ctx := testkit.Connect(t, sock)
	s := specgen.NewSpecGenerator(testkit.BaseImage, false)
	s.Name = testkit.UniqueName("loopat-test-vault")
	s.Command = []string{"sleep", "infinity"}
	init := true
	s.Init = &init
	s.NetNS = specgen.Namespace{NSMode: specgen.NoNetwork}
	s.Labels = map[string]string{"loopat.test": "vault"}
	s.Mounts = []spec.Mount{{Type: "tmpfs", Source: "tmpfs", Destination: "/home/agent", Options: []string{"rw", "mode=0700", "size=1m"}}}
	created, err := containers.CreateWithSpec(ctx, s, nil)
	if err != nil {
		t.Fatalf("create container: %v", err)
	}
	t.Cleanup(func() {
		cctx, cancel := context.WithTimeout(testkit.Connect(t, sock), time.Minute)
		defer cancel()
		if _, err := containers.Remove(cctx, created.ID, new(containers.RemoveOptions).WithForce(true).WithTimeout(0)); err != nil {
			t.Errorf("remove container: %v", err)
		}
	})
	if err := containers.Start(ctx, created.ID, nil); err != nil {
		t.Fatalf("start container: %v", err)
	}
	const key = "-----BEGIN OPENSSH PRIVATE KEY-----\nsecret-body\n-----END OPENSSH PRIVATE KEY-----\n"
	tarball, err := TarFiles([]FileSecret{
		{Path: ".ssh/id_ed25519", Mode: 0o600, Value: []byte(key)},
		{Path: ".config/tool/token", Mode: 0o400, Value: []byte("tok")},
	}, 2000, 2000)
	if err != nil {
		t.Fatal(err)
	}
	exec := func(stdin []byte, cmd ...string) string {
		t.Helper()
		id, err := containers.ExecCreate(ctx, created.ID, &handlers.ExecCreateConfig{ExecOptions: dockerContainer.ExecOptions{
			AttachStdin: stdin != nil, AttachStdout: true, AttachStderr: true, Cmd: cmd,
		}})
		if err != nil {
			t.Fatalf("exec create: %v", err)
		}
		var out, errOut bytes.Buffer
		opts := new(containers.ExecStartAndAttachOptions).WithOutputStream(&out).WithAttachOutput(true).
			WithErrorStream(&errOut).WithAttachError(true)
		if stdin != nil {
			opts = opts.WithInputStream(*bufio.NewReader(bytes.NewReader(stdin))).WithAttachInput(true)
		}
		actx, cancel := context.WithTimeout(ctx, time.Minute)
		defer cancel()
		if err := containers.ExecStartAndAttach(actx, id, opts); err != nil {
			t.Fatalf("exec %v: %v", cmd, err)
		}
		insp, err := containers.ExecInspect(ctx, id, nil)
		if err != nil || insp.ExitCode != 0 {
			t.Fatalf("exec %v: exit %d %v: %s", cmd, insp.ExitCode, err, errOut.String())
		}
		return out.String()
	}
	exec(tarball, "tar", "-x", "--numeric-owner", "-C", "/home/agent")
	got := exec(nil, "stat", "-c", "%a %u:%g %n", "/home/agent/.ssh", "/home/agent/.ssh/id_ed25519", "/home/agent/.config/tool/token")
	want := "700 2000:2000 /home/agent/.ssh\n600 2000:2000 /home/agent/.ssh/id_ed25519\n400 2000:2000 /home/agent/.config/tool/token\n"
	if got != want {
		t.Fatalf("stat:\n%s\nwant:\n%s", got, want)
	}
	if body := exec(nil, "cat", "/home/agent/.ssh/id_ed25519"); body != key {
		t.Fatalf("content %q", body)
	}
	if fs := exec(nil, "sh", "-c", "grep ' /home/agent ' /proc/mounts"); !strings.Contains(fs, "tmpfs") {
		t.Fatalf("home is not a tmpfs: %q", fs)
	}
}
