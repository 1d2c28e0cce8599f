package launcher

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestMessageLines(t *testing.T) {
	for _, c := range []struct {
		data []byte
		line string
	}{
		{[]byte("hello world"), "hello world"},
		{[]byte("tab\tok, ünïcode"), "tab\tok, ünïcode"},
		{[]byte(""), ""},
		{[]byte("two\nlines"), "base64:dHdvCmxpbmVz"},
		{[]byte{0xff, 0x00, 0x01}, "base64:/wAB"},
		{[]byte("base64:looks encoded"), "base64:YmFzZTY0Omxvb2tzIGVuY29kZWQ="},
		{[]byte("bell\a"), "base64:YmVsbAc="},
	} {
		line := EncodeMessageLine(c.data)
		if line != c.line {
			t.Errorf("EncodeMessageLine(%q) = %q, want %q", c.data, line, c.line)
		}
		back, err := DecodeMessageLine(line)
		if err != nil || !bytes.Equal(back, c.data) {
			t.Errorf("DecodeMessageLine(%q) = %q, %v; want %q", line, back, err, c.data)
		}
	}
	if _, err := DecodeMessageLine("base64:!!"); err == nil {
		t.Error("corrupt base64 accepted")
	}
}

func TestAppendMessage(t *testing.T) {
	dir := t.TempDir()
	msgs := [][]byte{[]byte("first"), {0, 1, 2}, []byte("third")}
	for _, m := range msgs {
		if err := AppendMessage(dir, m); err != nil {
			t.Fatal(err)
		}
	}
	b, err := os.ReadFile(filepath.Join(dir, MessagesFile))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	if len(lines) != len(msgs) {
		t.Fatalf("%d lines for %d messages: %q", len(lines), len(msgs), b)
	}
	for i, l := range lines {
		if got, err := DecodeMessageLine(l); err != nil || !bytes.Equal(got, msgs[i]) {
			t.Errorf("line %d: %q %v, want %q", i, got, err, msgs[i])
		}
	}
	if err := AppendMessage("", []byte("x")); err == nil {
		t.Error("a message to a task without sandbox was accepted")
	}
}
