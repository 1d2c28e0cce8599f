package sdktest

import (
	"net"
	"strconv"
	"testing"
)

// TestFreePortsAvoidEphemeralRange: the masters' raft ports are distinct,
// free, and below the kernel's ephemeral range where that is known, so an
// outgoing connection cannot take one between choosing and binding it.
func TestFreePortsAvoidEphemeralRange(t *testing.T) {
	lo, hi := quietPortRange()
	addrs, err := freePorts(5)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, a := range addrs {
		if seen[a] {
			t.Fatalf("port %s handed out twice in %v", a, addrs)
		}
		seen[a] = true
		_, p, _ := net.SplitHostPort(a)
		port, _ := strconv.Atoi(p)
		if hi > lo && (port < lo || port >= hi) {
			t.Fatalf("port %d outside [%d, %d)", port, lo, hi)
		}
		l, err := net.Listen("tcp", a)
		if err != nil {
			t.Fatalf("chosen address %s is not free: %v", a, err)
		}
		l.Close()
	}
}
