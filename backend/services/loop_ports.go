package services

import (
	"errors"

	"github.com/loopat/desktop/backend/ports"
	"github.com/loopat/desktop/backend/rpc"
)

// PortForwarder is the loops' port forwarding (ports.Manager).
type PortForwarder interface {
	Ports(loopID string) ([]ports.Forward, error)
	Forward(loopID string, containerPort int) ([]ports.Forward, error)
	Stop(loopID string, containerPort int) ([]ports.Forward, error)
	Share(loopID, dir, sub string, network bool) (ports.Shared, error)
	ShareOnNetwork(loopID string, containerPort int, on bool) ([]ports.Forward, error)
	SharedOf(loopID string) (ports.Shared, bool)
	StopShare(loopID string)
}

// WirePorts gives s port forwarding; changes arrive as "loop:<id>:ports" events. A
// function, not a method: a LoopService method would be callable from the UI.
func WirePorts(s *LoopService, pf PortForwarder) { s.pf = pf }

func (s *LoopService) portsFor(id string) (PortForwarder, error) {
	if _, err := s.m.Get(id); err != nil {
		return nil, userError(err)
	}
	if s.pf == nil {
		return nil, errors.New("port forwarding is not available in this build")
	}
	return s.pf, nil
}

// Ports lists the ports the loop's processes listen on and where each is forwarded
// on this computer (http://127.0.0.1:<hostPort>/).
func (s *LoopService) Ports(id string) ([]ports.Forward, error) {
	pf, err := s.portsFor(id)
	if err != nil {
		return nil, err
	}
	return pf.Ports(id)
}

// ForwardPort forwards a container port (detected or typed by hand) until stopped.
func (s *LoopService) ForwardPort(id string, containerPort int) ([]ports.Forward, error) {
	pf, err := s.portsFor(id)
	if err != nil {
		return nil, err
	}
	l, err := pf.Forward(id, containerPort)
	if err != nil {
		return l, rpc.Invalid(err.Error()+".", "Pick a port between 1 and 65535, or widen [ports] range in Settings.", err)
	}
	return l, nil
}

// StopForwarding closes a port's forward; it is not forwarded again until ForwardPort.
func (s *LoopService) StopForwarding(id string, containerPort int) ([]ports.Forward, error) {
	pf, err := s.portsFor(id)
	if err != nil {
		return nil, err
	}
	l, err := pf.Stop(id, containerPort)
	if err != nil {
		return l, rpc.Invalid(err.Error()+".", "", err)
	}
	return l, nil
}

// ShareWorkdir serves the loop's workdir (or its folder sub) read-only: on this
// computer's loopback, or on every address when network (the user's explicit choice;
// refused when the folder holds .git, .env*, .ssh, .claude... anywhere). Never .git,
// .env*, .ssh, .claude or node_modules, never a symlink; a missing path falls back
// to index.html. A refused share leaves the current one as it was.
func (s *LoopService) ShareWorkdir(id, sub string, network bool) (ports.Shared, error) {
	pf, err := s.portsFor(id)
	if err != nil {
		return ports.Shared{}, err
	}
	sh, err := pf.Share(id, s.m.Store().WorkDir(id), sub, network)
	if err != nil {
		hint := "Pick a folder of the workdir (not a link, not .git, .env, .ssh, .claude or node_modules)."
		if network {
			hint = "On the network only a folder without secrets is shared (e.g. a build output such as dist); share on this computer only otherwise."
		}
		return ports.Shared{}, rpc.Invalid(err.Error()+".", hint, err)
	}
	return sh, nil
}

// SharePortOnNetwork makes a forwarded port reachable from other machines of the
// network (bound on 0.0.0.0) or, with on false, from this computer only again. It
// lasts until the forward closes; a loop can never set it.
func (s *LoopService) SharePortOnNetwork(id string, containerPort int, on bool) ([]ports.Forward, error) {
	pf, err := s.portsFor(id)
	if err != nil {
		return nil, err
	}
	l, err := pf.ShareOnNetwork(id, containerPort, on)
	if err != nil {
		return l, rpc.Invalid(err.Error()+".", "Forward the port first.", err)
	}
	return l, nil
}

// WorkdirShare is the loop's static share (empty url: none).
func (s *LoopService) WorkdirShare(id string) (ports.Shared, error) {
	pf, err := s.portsFor(id)
	if err != nil {
		return ports.Shared{}, err
	}
	sh, _ := pf.SharedOf(id)
	return sh, nil
}

// StopWorkdirShare ends the loop's static share.
func (s *LoopService) StopWorkdirShare(id string) error {
	pf, err := s.portsFor(id)
	if err != nil {
		return err
	}
	pf.StopShare(id)
	return nil
}
