package chaos

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// NamePrefix starts the name of every network namespace the harness
// creates: "agch-<pid>-<node>". CleanupStale removes those whose harness
// process is gone.
const NamePrefix = "agch-"

// ErrNoNetns is returned when network namespaces cannot be used here.
var ErrNoNetns = errors.New("chaos: network namespaces are not available (need root and iproute2)")

// Network is a private network of namespaces: a hub namespace holding a
// bridge, and one namespace per node joined to it by a veth pair. Only the
// namespaces it creates carry its addresses; nothing is routed outside.
type Network struct {
	prefix string // "agch-<pid>-"
	subnet string // first three octets, e.g. "10.77.0"
	log    *slog.Logger
	nodes  map[string]*Node
	// blocked holds the blackhole routes in place, as "node>ip".
	blocked map[string]bool
	down    map[string]bool // nodes whose link is down
}

// Node is one namespace on the network.
type Node struct {
	Name string
	NS   string // namespace name
	IP   string
	hub  string // the hub side of its veth
}

// NetnsPath is where `ip netns` keeps namespace name's handle.
func NetnsPath(name string) string { return "/run/netns/" + name }

// Available reports whether this process can create network namespaces.
func Available() error {
	if os.Geteuid() != 0 {
		return fmt.Errorf("%w: not root", ErrNoNetns)
	}
	for _, bin := range []string{"ip", "nsenter"} {
		if _, err := exec.LookPath(bin); err != nil {
			return fmt.Errorf("%w: %s not found", ErrNoNetns, bin)
		}
	}
	if out, err := exec.Command("ip", "netns", "list").CombinedOutput(); err != nil {
		return fmt.Errorf("%w: ip netns list: %v: %s", ErrNoNetns, err, out)
	}
	return nil
}

func ipCmd(ctx context.Context, args ...string) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "ip", args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("chaos: ip %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

// NewNetwork creates the hub and one namespace per node, with addresses
// subnet.<octet>/24. On error, whatever was created is removed.
func NewNetwork(ctx context.Context, subnet string, octets map[string]int, log *slog.Logger) (n *Network, err error) {
	n = &Network{
		prefix:  fmt.Sprintf("%s%d-", NamePrefix, os.Getpid()),
		subnet:  subnet,
		log:     log,
		nodes:   map[string]*Node{},
		blocked: map[string]bool{},
		down:    map[string]bool{},
	}
	defer func() {
		if err != nil {
			n.Destroy()
			n = nil
		}
	}()
	hub := n.prefix + "hub"
	if err := ipCmd(ctx, "netns", "add", hub); err != nil {
		return n, err
	}
	if err := ipCmd(ctx, "-n", hub, "link", "add", "br0", "type", "bridge"); err != nil {
		return n, err
	}
	if err := ipCmd(ctx, "-n", hub, "link", "set", "br0", "up"); err != nil {
		return n, err
	}
	for _, name := range sortedKeys(octets) {
		node := &Node{Name: name, NS: n.prefix + name, IP: fmt.Sprintf("%s.%d", subnet, octets[name]), hub: "v-" + name}
		n.nodes[name] = node
		steps := [][]string{
			{"netns", "add", node.NS},
			{"-n", hub, "link", "add", node.hub, "type", "veth", "peer", "name", "eth0", "netns", node.NS},
			{"-n", hub, "link", "set", node.hub, "master", "br0", "up"},
			{"-n", node.NS, "addr", "add", node.IP + "/24", "dev", "eth0"},
			{"-n", node.NS, "link", "set", "eth0", "up"},
			{"-n", node.NS, "link", "set", "lo", "up"},
		}
		for _, s := range steps {
			if err := ipCmd(ctx, s...); err != nil {
				return n, err
			}
		}
	}
	return n, nil
}

// Node returns a node by name.
func (n *Network) Node(name string) *Node { return n.nodes[name] }

// Block cuts traffic between nodes a and b in both directions: each drops
// what it would send to the other (a blackhole route), so packets vanish
// as in a real partition and connections time out.
func (n *Network) Block(ctx context.Context, a, b string) error {
	for _, p := range [][2]*Node{{n.nodes[a], n.nodes[b]}, {n.nodes[b], n.nodes[a]}} {
		key := p[0].Name + ">" + p[1].IP
		if n.blocked[key] {
			continue
		}
		if err := ipCmd(ctx, "-n", p[0].NS, "route", "add", "blackhole", p[1].IP+"/32"); err != nil {
			return err
		}
		n.blocked[key] = true
	}
	return nil
}

// Isolate takes a node's link down: it can reach nobody, and nobody it.
func (n *Network) Isolate(ctx context.Context, name string) error {
	if err := ipCmd(ctx, "-n", n.prefix+"hub", "link", "set", n.nodes[name].hub, "down"); err != nil {
		return err
	}
	n.down[name] = true
	return nil
}

// Heal removes every blackhole route and brings every link back up.
func (n *Network) Heal(ctx context.Context) error {
	var errs []error
	for key := range n.blocked {
		from, ip, _ := strings.Cut(key, ">")
		if err := ipCmd(ctx, "-n", n.nodes[from].NS, "route", "del", "blackhole", ip+"/32"); err != nil {
			errs = append(errs, err)
			continue
		}
		delete(n.blocked, key)
	}
	for name := range n.down {
		if err := ipCmd(ctx, "-n", n.prefix+"hub", "link", "set", n.nodes[name].hub, "up"); err != nil {
			errs = append(errs, err)
			continue
		}
		delete(n.down, name)
	}
	return errors.Join(errs...)
}

// Pids lists the processes inside a node's namespace.
func (n *Network) Pids(name string) ([]int, error) {
	return netnsPids(n.nodes[name].NS)
}

func netnsPids(ns string) ([]int, error) {
	out, err := exec.Command("ip", "netns", "pids", ns).Output()
	if err != nil {
		return nil, fmt.Errorf("chaos: ip netns pids %s: %w", ns, err)
	}
	var pids []int
	for _, f := range strings.Fields(string(out)) {
		if p, err := strconv.Atoi(f); err == nil {
			pids = append(pids, p)
		}
	}
	return pids, nil
}

// Destroy kills every process left in the namespaces and removes them
// (the veths and the bridge go with them). Safe to call twice.
func (n *Network) Destroy() {
	names := []string{n.prefix + "hub"}
	for _, node := range n.nodes {
		names = append(names, node.NS)
	}
	for _, ns := range names {
		removeNetns(ns, n.log)
	}
	n.nodes = map[string]*Node{}
}

func removeNetns(ns string, log *slog.Logger) {
	if _, err := os.Stat(NetnsPath(ns)); err != nil {
		return
	}
	killNetns(ns)
	if err := ipCmd(context.Background(), "netns", "del", ns); err != nil && log != nil {
		log.Warn("remove network namespace", "ns", ns, "err", err)
	}
}

// killNetns SIGKILLs every process in a namespace and waits (briefly) for
// them to go.
func killNetns(ns string) {
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		pids, err := netnsPids(ns)
		if err != nil || len(pids) == 0 {
			return
		}
		for _, p := range pids {
			_ = syscall.Kill(p, syscall.SIGCONT)
			_ = syscall.Kill(p, syscall.SIGKILL)
		}
		time.Sleep(50 * time.Millisecond) // poll: the kernel reaps asynchronously
	}
}

// CleanupStale removes namespaces named by NamePrefix whose harness
// process no longer runs (left by a crashed or killed run).
func CleanupStale(log *slog.Logger) {
	out, err := exec.Command("ip", "netns", "list").Output()
	if err != nil {
		return
	}
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		if len(f) == 0 || !strings.HasPrefix(f[0], NamePrefix) {
			continue
		}
		rest := strings.TrimPrefix(f[0], NamePrefix)
		pidStr, _, _ := strings.Cut(rest, "-")
		pid, err := strconv.Atoi(pidStr)
		if err != nil || pid == os.Getpid() || alive(pid) {
			continue
		}
		if log != nil {
			log.Info("removing stale chaos namespace", "ns", f[0])
		}
		removeNetns(f[0], log)
	}
}

// alive reports whether pid is a running chaos harness (a reused pid of
// another program does not count).
func alive(pid int) bool {
	err := syscall.Kill(pid, 0)
	if err != nil && !errors.Is(err, syscall.EPERM) {
		return false
	}
	cmd, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	return err != nil || strings.Contains(string(cmd), "chaos")
}
