package agent_test

import (
	"bufio"
	"bytes"
	"net"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/agora-cluster/agora/agent"
	"github.com/agora-cluster/agora/master/registry"
	"github.com/agora-cluster/agora/sdk/sdktest"
)

// stallProxy forwards TCP connections to a NATS server; stall makes the
// connections open at that moment go silent both ways (a paused server),
// while later connections are forwarded as usual.
type stallProxy struct {
	ln       net.Listener
	upstream string

	mu       sync.Mutex
	accepted int
	open     []chan struct{} // closed to stall the connection
	conns    []net.Conn
	counts   map[string]int // protocol lines seen, by their start (see count)
}

func newStallProxy(t *testing.T, upstream string) *stallProxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &stallProxy{ln: ln, upstream: upstream, counts: map[string]int{}}
	go p.serve()
	t.Cleanup(p.close)
	return p
}

func (p *stallProxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		up, err := net.Dial("tcp", p.upstream)
		if err != nil {
			c.Close()
			continue
		}
		stalled := make(chan struct{})
		p.mu.Lock()
		p.accepted++
		p.open = append(p.open, stalled)
		p.conns = append(p.conns, c, up)
		p.mu.Unlock()
		go p.pipe(up, c, stalled, "client")
		go p.pipe(c, up, stalled, "server")
	}
}

// pipe copies src to dst until src ends or the connection is stalled;
// once stalled, it reads and drops (the peer sees no answer). It counts
// the protocol lines that went from "client" or "server" (see count).
func (p *stallProxy) pipe(dst, src net.Conn, stalled chan struct{}, from string) {
	r := bufio.NewReader(src)
	for {
		line, err := r.ReadBytes('\n')
		if err != nil {
			return
		}
		select {
		case <-stalled:
			continue
		default:
		}
		p.mu.Lock()
		p.counts[from+" "+string(bytes.TrimSpace(line))]++
		p.mu.Unlock()
		if _, err := dst.Write(line); err != nil {
			return
		}
	}
}

// count returns how many lines from "client" or "server" began with
// prefix (payloads count as lines too; the prefixes asked for are
// protocol verbs).
func (p *stallProxy) count(from, prefix string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for line, k := range p.counts {
		if strings.HasPrefix(line, from+" "+prefix) {
			n += k
		}
	}
	return n
}

func (p *stallProxy) stall() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, s := range p.open {
		select {
		case <-s:
		default:
			close(s)
		}
	}
}

func (p *stallProxy) connections() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.accepted
}

func (p *stallProxy) close() {
	p.ln.Close()
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		c.Close()
	}
}

// startAgentBehindProxy starts a master and one agent that reaches its
// NATS server through a stallProxy.
func startAgentBehindProxy(t *testing.T) (*sdktest.Cluster, *stallProxy) {
	var proxy *stallProxy
	c := sdktest.Start(t, sdktest.Masters(1), sdktest.Agents(1, "cpus:1;mem:256"), sdktest.Simulated(),
		sdktest.WithAgentConfig(func(_ int, ac *agent.Config) {
			u, err := url.Parse(ac.NATSURLs[0])
			if err != nil {
				t.Fatal(err)
			}
			proxy = newStallProxy(t, u.Host)
			ac.NATSURLs = []string{"nats://" + proxy.ln.Addr().String()}
		}))
	return c, proxy
}

// TestSilentNATSServerLeft: an agent whose NATS server stops answering
// (its TCP connection stays open) reconnects and registers again, by its
// own check: the NATS client's PINGs are a minute apart.
func TestSilentNATSServerLeft(t *testing.T) {
	c, proxy := startAgentBehindProxy(t)
	a := c.Agents()[0]
	if proxy.connections() != 1 {
		t.Fatalf("agent made %d connections through the proxy, want 1", proxy.connections())
	}
	// Stalled: the leader stops hearing the agent, and the agent, unable
	// to tell, would keep its dead connection without the check.
	proxy.stall()
	sdktest.Eventually(t, 15*time.Second, func() bool { return proxy.connections() >= 2 },
		"the agent reconnected after its server went silent")
	sdktest.Eventually(t, 10*time.Second, func() bool { ok, _ := a.Registered(); return ok },
		"the agent is registered over its new connection")
	sdktest.Eventually(t, 10*time.Second, func() bool {
		r, _ := c.Leader().Registry().Agent(a.ID())
		return r.State == registry.AgentActive
	}, "the agent is active in the registry")
}

// TestNATSServerDeliveringNotPinged: while the server delivers messages
// (the leader's announcements, every 200 ms here), the agent's check of
// its server sends no PINGs: the check looks every second in this
// cluster, so without the messages it would PING about once a second.
func TestNATSServerDeliveringNotPinged(t *testing.T) {
	c, proxy := startAgentBehindProxy(t)
	a := c.Agents()[0]
	sdktest.Eventually(t, 10*time.Second, func() bool { ok, _ := a.Registered(); return ok }, "the agent registered")
	leaderMsgs := func() int { return proxy.count("server", "MSG agora.leader ") }
	pings0, from := proxy.count("client", "PING"), leaderMsgs()
	// 25 announcements: five seconds, five looks at the server.
	sdktest.Eventually(t, 20*time.Second, func() bool { return leaderMsgs() >= from+25 }, "25 leader announcements reached the agent")
	if pings := proxy.count("client", "PING") - pings0; pings > 0 {
		t.Fatalf("the agent sent %d PINGs to a server that delivered %d announcements meanwhile", pings, leaderMsgs()-from)
	}
	if proxy.connections() != 1 {
		t.Fatalf("agent made %d connections through the proxy, want 1", proxy.connections())
	}
}
