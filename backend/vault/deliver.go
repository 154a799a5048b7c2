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

// EnvScript renders env secrets as POSIX sh `export NAME='value'` lines, sorted by name,
// for a fixed wrapper to source (`. file`) before it execs the real command. Values are
// single-quoted (a ' becomes '\”), so the shell reads them as data, never as code.
// A name that is not a shell identifier or a value with a NUL byte (which no process
// environment can hold) is an error naming the secret, never showing its value.
func EnvScript(envs map[string]string) ([]byte, error) {
	names := make([]string, 0, len(envs))
	for k := range envs {
		names = append(names, k)
	}
	sort.Strings(names)
	var b bytes.Buffer
	for _, k := range names {
		if err := CheckEnvName(k); err != nil {
			return nil, err
		}
		v := envs[k]
		if strings.IndexByte(v, 0) >= 0 {
			return nil, fmt.Errorf("env secret %s contains a NUL byte, which an environment cannot hold", k)
		}
		b.WriteString("export " + k + "='" + strings.ReplaceAll(v, "'", `'\''`) + "'\n")
	}
	return b.Bytes(), nil
}

// HostCredential is a secret the host itself uses, e.g. a context remote's https token
// (Env) or SSH key (File) in Vault. It is withheld from every sandbox: a loop could
// otherwise push to the remote past the review its promotes go through.
type HostCredential struct {
	Vault string
	Env   string // env secret name, "" = none
	File  string // file secret path, "" = none
}

// WithoutHostCredentials returns vaultName's envs and files minus the host credentials:
// those of vaultName by name, and any other env or file of vaultName holding the same
// value (a copy under another name or kind), compared without surrounding whitespace.
// withheld names what was left out (names and paths, never values), for the log.
func WithoutHostCredentials(vaultName string, envs map[string]string, files []FileSecret, creds []HostCredential) (
	outEnvs map[string]string, outFiles []FileSecret, withheld []string) {
	names, paths, values := map[string]bool{}, map[string]bool{}, map[string]bool{}
	for _, c := range creds {
		v := c.Vault
		if v == "" {
			v = DefaultVault
		}
		if v != vaultName {
			continue
		}
		if c.Env != "" {
			names[c.Env] = true
			if val, ok := envs[c.Env]; ok && strings.TrimSpace(val) != "" {
				values[strings.TrimSpace(val)] = true
			}
		}
		if c.File != "" {
			paths[c.File] = true
			for _, f := range files {
				if f.Path == c.File && strings.TrimSpace(string(f.Value)) != "" {
					values[strings.TrimSpace(string(f.Value))] = true
				}
			}
		}
	}
	outEnvs = make(map[string]string, len(envs))
	for k, v := range envs {
		if names[k] || values[strings.TrimSpace(v)] {
			withheld = append(withheld, "env "+k)
			continue
		}
		outEnvs[k] = v
	}
	for _, f := range files {
		if paths[f.Path] || values[strings.TrimSpace(string(f.Value))] {
			withheld = append(withheld, "file "+f.Path)
			continue
		}
		outFiles = append(outFiles, f)
	}
	sort.Strings(withheld)
	return outEnvs, outFiles, withheld
}

// EnvFile is the name of the env-secrets file in a sandbox's secrets folder. '#' is
// refused in file secret paths (CheckFilePath), so no file secret can collide with it.
const EnvFile = "#loopat.env"

// TarFiles packs file secrets into an in-memory tar archive rooted at the sandbox
// home, for copying into a running container (podman's CopyFromArchive, or
// `podman exec -i ... tar -x -C $HOME`) so no value is ever written to the host's disk.
// Parent folders are created 0700 (ssh refuses keys under group-readable .ssh); all
// entries belong to uid:gid.
func TarFiles(files []FileSecret, uid, gid int) ([]byte, error) {
	return TarSecrets(files, nil, "", uid, gid)
}

// TarSecrets is TarFiles plus, when envName is not empty, a 0600 entry envName holding
// envFile (EnvScript's output): env secrets travel the same way as file secrets, over
// an exec's stdin, never in an exec's environment (podman stores that on disk).
func TarSecrets(files []FileSecret, envFile []byte, envName string, uid, gid int) ([]byte, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	now := time.Now()
	if envName != "" {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: envName, Mode: 0o600, Size: int64(len(envFile)),
			Uid: uid, Gid: gid, ModTime: now}); err != nil {
			return nil, fmt.Errorf("tar env secrets: %w", err)
		}
		if _, err := tw.Write(envFile); err != nil {
			return nil, fmt.Errorf("tar env secrets: %w", err)
		}
	}
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
