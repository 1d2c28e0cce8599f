package workload

import (
	"context"
	"crypto/sha256"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/agora-cluster/agora/sdk/wire"
)

// termBook aggregates master-sent messages by observer, term, sender and
// type, and keeps launches and leader announcements.
type termBook struct {
	mu       sync.Mutex
	terms    map[termKey]*TermSeen
	seen     map[[32]byte]bool // LAUNCH messages already recorded
	launches []LaunchSeen
	leaders  map[termName]LeaderSeen
}

type termKey struct {
	observer string
	term     uint64
	from     string
	typ      wire.Type
}

type termName struct {
	term uint64
	name string
}

func newTermBook() *termBook {
	return &termBook{terms: map[termKey]*TermSeen{}, seen: map[[32]byte]bool{}, leaders: map[termName]LeaderSeen{}}
}

func (b *termBook) add(observer string, term uint64, from string, t wire.Type, at int64) {
	k := termKey{observer, term, from, t}
	b.mu.Lock()
	defer b.mu.Unlock()
	ts := b.terms[k]
	if ts == nil {
		ts = &TermSeen{Observer: observer, Term: term, From: from, Type: t, First: at}
		b.terms[k] = ts
	}
	ts.Count++
	ts.Last = at
}

// observe records one message a tap received.
func (b *termBook) observe(observer string, subject string, data []byte, at int64) {
	env, err := wire.Decode(data)
	if err != nil || env.Term == 0 {
		return // not from a master
	}
	b.add(observer, env.Term, env.From, env.Type, at)
	switch env.Type {
	case wire.TypeLaunch:
		var l wire.Launch
		if wire.DecodeBody(env, &l) != nil {
			return
		}
		h := sha256.Sum256(append([]byte(subject+"\x00"), data...))
		b.mu.Lock()
		defer b.mu.Unlock()
		if b.seen[h] {
			return
		}
		b.seen[h] = true
		ls := LaunchSeen{At: at, Term: env.Term, From: env.From, Agent: wire.LastToken(subject), Framework: l.FrameworkID}
		for _, t := range l.Tasks {
			ls.Tasks = append(ls.Tasks, t.TaskID)
		}
		b.launches = append(b.launches, ls)
	case wire.TypeLeader:
		var li wire.LeaderInfo
		if wire.DecodeBody(env, &li) != nil {
			return
		}
		k := termName{env.Term, env.From}
		b.mu.Lock()
		if _, ok := b.leaders[k]; !ok {
			b.leaders[k] = LeaderSeen{At: at, Term: env.Term, Name: env.From}
		}
		b.mu.Unlock()
	}
}

// fill copies the book into a record.
func (b *termBook) fill(r *Record) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, ts := range b.terms {
		r.Terms = append(r.Terms, *ts)
	}
	sort.Slice(r.Terms, func(i, j int) bool {
		a, c := r.Terms[i], r.Terms[j]
		if a.Term != c.Term {
			return a.Term < c.Term
		}
		if a.Observer != c.Observer {
			return a.Observer < c.Observer
		}
		if a.From != c.From {
			return a.From < c.From
		}
		return a.Type < c.Type
	})
	r.Launches = append(r.Launches, b.launches...)
	for _, l := range b.leaders {
		r.Leaders = append(r.Leaders, l)
	}
	sort.Slice(r.Leaders, func(i, j int) bool { return r.Leaders[i].At < r.Leaders[j].At })
}

// runTap subscribes to everything on one NATS server (and only that one:
// discovered servers are ignored, so that each tap sees what its server
// delivers) until ctx ends.
func runTap(ctx context.Context, name, url string, book *termBook, now func() int64) error {
	nc, err := nats.Connect(url,
		nats.Name("chaos-tap-"+name),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(200*time.Millisecond),
		nats.IgnoreDiscoveredServers(),
		nats.RetryOnFailedConnect(true),
	)
	if err != nil {
		return fmt.Errorf("workload: tap %s: %w", name, err)
	}
	defer nc.Close()
	observer := "tap/" + name
	for _, subject := range []string{wire.DefaultPrefix + ".>", "_INBOX.>"} {
		s, err := nc.Subscribe(subject, func(m *nats.Msg) { book.observe(observer, m.Subject, m.Data, now()) })
		if err != nil {
			return fmt.Errorf("workload: tap %s: subscribe %s: %w", name, subject, err)
		}
		_ = s.SetPendingLimits(1<<20, 1<<30)
	}
	<-ctx.Done()
	return nil
}
