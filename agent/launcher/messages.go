package launcher

import (
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"unicode"
	"unicode/utf8"
)

// MessagesFile, in a run's sandbox, receives the framework's messages to
// the task (wire.Message relayed by the master), one a line, in the order
// they arrive; the task finds its path in AGORA_MESSAGES. The launcher
// creates it empty, so a task can follow it (tail -f) from the start.
//
// A message whose data is printable UTF-8 text (tabs allowed; no other
// control characters, so no newline) and does not begin with
// MessageBase64Prefix is written as is; any other is written as
// MessageBase64Prefix followed by its standard base64 encoding. An empty
// message is an empty line. DecodeMessageLine undoes this.
const MessagesFile = "framework-messages"

// MessageBase64Prefix begins the line of a message that is not plain text.
const MessageBase64Prefix = "base64:"

// EncodeMessageLine returns the line (without its newline) that
// MessagesFile holds for a message.
func EncodeMessageLine(data []byte) string {
	if printable(data) && !strings.HasPrefix(string(data), MessageBase64Prefix) {
		return string(data)
	}
	return MessageBase64Prefix + base64.StdEncoding.EncodeToString(data)
}

// DecodeMessageLine returns the message data of one line of MessagesFile
// (without its newline).
func DecodeMessageLine(line string) ([]byte, error) {
	if b64, ok := strings.CutPrefix(line, MessageBase64Prefix); ok {
		data, err := base64.StdEncoding.DecodeString(b64)
		if err != nil {
			return nil, fmt.Errorf("launcher: message line: %w", err)
		}
		return data, nil
	}
	return []byte(line), nil
}

func printable(data []byte) bool {
	if !utf8.Valid(data) {
		return false
	}
	for _, r := range string(data) {
		if r != '\t' && !unicode.IsPrint(r) {
			return false
		}
	}
	return true
}

// AppendMessage appends a message to the MessagesFile of a sandbox, in
// one write so that a reader never sees half a line.
func AppendMessage(sandbox string, data []byte) error {
	if sandbox == "" {
		return errors.New("launcher: the task has no sandbox for messages")
	}
	f, err := os.OpenFile(filepath.Join(sandbox, MessagesFile), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return fmt.Errorf("launcher: messages: %w", err)
	}
	_, err = f.WriteString(EncodeMessageLine(data) + "\n")
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("launcher: messages: %w", err)
	}
	return nil
}
