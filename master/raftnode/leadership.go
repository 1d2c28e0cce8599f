package raftnode

import "sync"

// leaderNotifier fans raft's single leadership channel out to any number
// of subscribers without ever blocking: each subscriber's channel has a
// buffer of one that holds only the latest value.
type leaderNotifier struct {
	mu     sync.Mutex
	leader bool
	subs   []chan bool
}

// subscribe returns a new channel. If the node leads right now, true is
// already waiting in it.
func (n *leaderNotifier) subscribe() <-chan bool {
	ch := make(chan bool, 1)
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.leader {
		ch <- true
	}
	n.subs = append(n.subs, ch)
	return ch
}

// set records the leadership raft reported and passes it to every
// subscriber, replacing any value a subscriber has not read yet. Every
// value raft reports is passed on, a repeated true included: raft itself
// collapses unread values, so true after true means leadership was lost
// and regained in between.
func (n *leaderNotifier) set(v bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.leader = v
	for _, ch := range n.subs {
		// set is the only sender and holds mu, so once the stale value is
		// drained the send cannot block; the default cases only make that
		// explicit.
		select {
		case <-ch:
		default:
		}
		select {
		case ch <- v:
		default:
		}
	}
}

// isLeader is the last value passed to subscribers.
func (n *leaderNotifier) isLeader() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.leader
}
