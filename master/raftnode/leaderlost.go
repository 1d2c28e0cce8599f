package raftnode

import "github.com/hashicorp/raft"

// LeaderLost returns a channel that receives whenever this node sees a
// leader it knew go away: raft's heartbeat timer fired (the leader died,
// or is cut off), another node took over, or this node stopped leading.
// A node's first sight of a leader, after it starts, does not count.
// Signals coalesce: the channel buffers one, and one unread signal stands
// for any number of losses. Every call returns the same channel; it is
// never closed.
func (n *Node) LeaderLost() <-chan struct{} { return n.leaderLost }

// watchLeaderLost reads raft's leader observations (one observer, never
// blocking raft: raft drops an observation the buffer has no room for,
// so the loop keeps up and the buffer is generous) and signals
// leaderLost when the known leader changes.
func (n *Node) watchLeaderLost(obs chan raft.Observation) {
	defer n.wg.Done()
	var known raft.ServerID
	for {
		select {
		case o := <-obs:
			lo, ok := o.Data.(raft.LeaderObservation)
			if !ok {
				continue
			}
			if known != "" && lo.LeaderID != known {
				select {
				case n.leaderLost <- struct{}{}:
				default:
				}
			}
			known = lo.LeaderID
		case <-n.shutdownCh:
			return
		}
	}
}
