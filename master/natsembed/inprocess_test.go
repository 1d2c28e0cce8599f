package natsembed

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/agora-cluster/agora/master/internal/testcert"
	"github.com/agora-cluster/agora/sdk/wire"
)

// TestInProcessClient: a client inside the process connects with no
// socket and no TLS, even when the server makes TCP clients use TLS; it
// must log in, is held to its identity's permissions like any client, and
// exchanges messages with TCP clients.
func TestInProcessClient(t *testing.T) {
	ca, cert, key := testcert.Write(t)
	s := start(t, Config{TLSCert: cert, TLSKey: key, Auth: &Auth{Users: []User{
		{Name: "master", Password: "m", Kind: KindMaster},
		{Name: "hello", Password: "h", Kind: KindFramework, IDs: []string{"hello"}},
	}}})
	if nc, err := s.ConnectInProcess(nats.UserInfo("hello", "wrong")); !errors.Is(err, nats.ErrAuthorization) {
		if nc != nil {
			nc.Close()
		}
		t.Fatalf("in-process login with a wrong password: %v, want an authorization violation", err)
	}
	onErr, violations := asyncErrors()
	in, err := s.ConnectInProcess(nats.UserInfo("hello", "h"), onErr)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	if got := in.ConnectedAddr(); got != "pipe" {
		t.Fatalf("in-process client connected to %q, want an in-memory pipe", got)
	}
	subj := wire.NewSubjects("")
	_, _ = in.SubscribeSync(subj.Framework("other"))
	waitFor(t, 5*time.Second, func() bool { return strings.Contains(violations(), "Permissions Violation for Subscription") },
		"another framework's subject to be refused")

	sub, err := in.SubscribeSync(subj.Framework("hello"))
	if err != nil {
		t.Fatal(err)
	}
	if err := in.Flush(); err != nil {
		t.Fatal(err)
	}
	tcp, err := nats.Connect(s.ClientURL(), nats.RootCAs(ca), nats.UserInfo("master", "m"))
	if err != nil {
		t.Fatal(err)
	}
	defer tcp.Close()
	if err := tcp.Publish(subj.Framework("hello"), []byte("hi")); err != nil {
		t.Fatal(err)
	}
	m, err := sub.NextMsg(5 * time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if string(m.Data) != "hi" {
		t.Fatalf("got %q, want hi", m.Data)
	}
}

// pipeConn returns a buffered client end over a pipe of n bytes of queue,
// and the pipe's other end.
func pipeConn(t *testing.T, n int) (*bufferedConn, net.Conn) {
	t.Helper()
	server, client := net.Pipe()
	b := newBufferedConn(client, n)
	t.Cleanup(func() { b.Close(); server.Close() })
	return b, server
}

// within fails the test unless f returns within d.
func within(t *testing.T, d time.Duration, what string, f func()) {
	t.Helper()
	ch := make(chan struct{})
	go func() { defer close(ch); f() }()
	select {
	case <-ch:
	case <-time.After(d):
		t.Fatalf("%s did not return within %s", what, d)
	}
}

// TestBufferedConnWriteDoesNotWaitForReader: writes return while nobody
// reads the pipe, and arrive whole and in order when the reader comes.
func TestBufferedConnWriteDoesNotWaitForReader(t *testing.T) {
	b, server := pipeConn(t, 1<<20)
	var want bytes.Buffer
	within(t, 5*time.Second, "100 writes with no reader", func() {
		for i := range 100 {
			msg := fmt.Appendf(nil, "PUB x %d\r\n", i)
			want.Write(msg)
			if n, err := b.Write(msg); err != nil || n != len(msg) {
				t.Errorf("write %d: %d, %v", i, n, err)
			}
		}
	})
	got := make([]byte, want.Len())
	if _, err := io.ReadFull(server, got); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want.Bytes()) {
		t.Fatalf("read %q, want %q", got, want.Bytes())
	}
}

// TestBufferedConnFullQueueHonoursDeadline: with the queue full and
// nobody reading, a write waits for the write deadline, then fails.
func TestBufferedConnFullQueueHonoursDeadline(t *testing.T) {
	b, server := pipeConn(t, 8)
	// The drainer takes the first write and blocks on the pipe; the
	// second fills the queue.
	for _, m := range []string{"12345678", "abcdefgh"} {
		if _, err := b.Write([]byte(m)); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, 5*time.Second, func() bool {
		b.mu.Lock()
		defer b.mu.Unlock()
		return len(b.buf) == 8
	}, "the drainer to take the first write")
	_ = b.SetWriteDeadline(time.Now().Add(50 * time.Millisecond))
	var err error
	within(t, 5*time.Second, "a write to a full queue", func() { _, err = b.Write([]byte("x")) })
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("write to a full queue: %v, want a deadline error", err)
	}
	_ = b.SetWriteDeadline(time.Time{})
	got := make([]byte, 16)
	if _, err := io.ReadFull(server, got); err != nil || string(got) != "12345678abcdefgh" {
		t.Fatalf("read %q, %v", got, err)
	}
}

// TestBufferedConnCloseSendsQueue: Close delivers what was queued before
// it closes the pipe, and later writes fail.
func TestBufferedConnCloseSendsQueue(t *testing.T) {
	b, server := pipeConn(t, 1<<20)
	if _, err := b.Write([]byte("last words")); err != nil {
		t.Fatal(err)
	}
	read := make(chan []byte)
	go func() {
		all, _ := io.ReadAll(server)
		read <- all
	}()
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if got := <-read; string(got) != "last words" {
		t.Fatalf("server read %q before the close, want the queued write", got)
	}
	if _, err := b.Write([]byte("more")); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("write after close: %v", err)
	}
}

// TestBufferedConnServerGone: once the server's end closes, writes fail.
func TestBufferedConnServerGone(t *testing.T) {
	b, server := pipeConn(t, 1<<20)
	server.Close()
	waitFor(t, 5*time.Second, func() bool {
		_, err := b.Write([]byte("x"))
		return err != nil
	}, "writes to fail once the server's end closed")
}
