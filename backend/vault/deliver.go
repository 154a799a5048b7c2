package vault

import (
	"archive/tar"
	"bytes"
	"fmt"
	"path"
	"sort"
	"strings"
	"time"
)

// TarFiles packs file secrets into an in-memory tar archive rooted at the sandbox
// home, for copying into a running container (podman's CopyFromArchive, or
// `podman exec -i ... tar -x -C $HOME`) so no value is ever written to the host's disk.
// Parent folders are created 0700 (ssh refuses keys under group-readable .ssh); all
// entries belong to uid:gid.
func TarFiles(files []FileSecret, uid, gid int) ([]byte, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	now := time.Now()
	dirs := map[string]bool{}
	sorted := append([]FileSecret(nil), files...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Path < sorted[j].Path })
	for _, f := range sorted {
		if err := CheckFilePath(f.Path); err != nil {
			return nil, err
		}
		parts := strings.Split(f.Path, "/")
		for i := 1; i < len(parts); i++ {
			dir := path.Join(parts[:i]...)
			if dirs[dir] {
				continue
			}
			dirs[dir] = true
			if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: dir + "/", Mode: 0o700,
				Uid: uid, Gid: gid, ModTime: now}); err != nil {
				return nil, fmt.Errorf("tar file secrets: %w", err)
			}
		}
		mode := int64(f.Mode.Perm())
		if mode == 0 {
			mode = 0o600
		}
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: f.Path, Mode: mode, Size: int64(len(f.Value)),
			Uid: uid, Gid: gid, ModTime: now}); err != nil {
			return nil, fmt.Errorf("tar file secrets: %w", err)
		}
		if _, err := tw.Write(f.Value); err != nil {
			return nil, fmt.Errorf("tar file secrets: %w", err)
		}
	}
	if err := tw.Close(); err != nil {
		return nil, fmt.Errorf("tar file secrets: %w", err)
	}
	return buf.Bytes(), nil
}
