package engine

import (
	"context"
	"fmt"
	"time"

	"github.com/containers/podman/v5/libpod/define"
	"github.com/containers/podman/v5/pkg/bindings/system"
)

// HostInfo is what the connected podman server says about itself (`podman info`): the
// facts that change how loops run. Rootless is the server's, not the app's: the app may
// be root talking to a user's socket, or a user talking to a machine's rootful one.
type HostInfo struct {
	Known           bool   `json:"known"` // false when the server did not answer `info`
	Rootless        bool   `json:"rootless"`
	StorageDriver   string `json:"storageDriver,omitempty"`
	Kernel          string `json:"kernel,omitempty"`
	OS              string `json:"os,omitempty"`
	CgroupVersion   string `json:"cgroupVersion,omitempty"`
	NetworkBackend  string `json:"networkBackend,omitempty"`
	RootlessNetwork string `json:"rootlessNetwork,omitempty"` // slirp4netns or pasta
	Remote          bool   `json:"remote,omitempty"`          // server says it is remote to its client
	Error           string `json:"error,omitempty"`           // why `podman info` failed (Known false)
}

// infoTimeout bounds `podman info`: a rootless server may set up its user namespace first.
const infoTimeout = 10 * time.Second

// QueryHostInfo asks the server behind conn (a bindings connection) for its HostInfo.
func QueryHostInfo(ctx context.Context, conn context.Context) (HostInfo, error) {
	ictx, cancel := context.WithTimeout(ctx, infoTimeout)
	defer cancel()
	info, err := system.Info(withValues(ictx, conn), nil)
	if err != nil {
		return HostInfo{}, fmt.Errorf("podman info: %w", err)
	}
	return HostInfoFrom(info), nil
}

// HostInfoFrom extracts the HostInfo of a `podman info` answer.
func HostInfoFrom(info *define.Info) HostInfo {
	if info == nil || info.Host == nil {
		return HostInfo{}
	}
	h := info.Host
	driver := ""
	if info.Store != nil {
		driver = info.Store.GraphDriverName
	}
	return HostInfo{
		Known:           true,
		Rootless:        h.Security.Rootless,
		StorageDriver:   driver,
		Kernel:          h.Kernel,
		OS:              h.OS,
		CgroupVersion:   h.CgroupsVersion,
		NetworkBackend:  h.NetworkBackend,
		RootlessNetwork: h.RootlessNetworkCmd,
		Remote:          h.ServiceIsRemote,
	}
}
