package master

import (
	"time"

	"github.com/nats-io/nats.go"

	"github.com/agora-cluster/agora/sdk/wire"
)

type memberSeen struct {
	wire.MemberStatus
	State string
	at    time.Time
}

// reportLoop publishes this master's own status so that any master can
// list every member's raft state and HTTP address.
func (m *Master) reportLoop() {
	t := time.NewTicker(m.cfg.AnnounceInterval)
	defer t.Stop()
	for {
		st := wire.MemberStatus{Name: m.cfg.Name, RaftState: m.raft.State(), HTTP: m.HTTPAddr()}
		if data, err := wire.Encode(wire.TypeMember, m.cfg.Name, 0, st); err == nil {
			_ = m.nc.Publish(m.subj.Members(), data)
		}
		select {
		case <-m.shutdownCh:
			return
		case <-t.C:
		}
	}
}

func (m *Master) onMemberStatus(msg *nats.Msg) {
	var st wire.MemberStatus
	if _, err := wire.DecodeAs(msg.Data, wire.TypeMember, &st); err != nil || st.Name == "" {
		return
	}
	m.mu.Lock()
	if m.members == nil {
		m.members = map[string]memberSeen{}
	}
	m.members[st.Name] = memberSeen{MemberStatus: st, State: st.RaftState, at: time.Now()}
	m.mu.Unlock()
}

func (m *Master) memberStatus() map[string]memberSeen {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make(map[string]memberSeen, len(m.members))
	for k, v := range m.members {
		out[k] = v
	}
	return out
}
