package wire

import "fmt"

// Batched forms of the per-task messages on the launch path. An agent
// that has several status updates ready sends them in one STATUS_UPDATES;
// the master forwards a framework's share of them in one UPDATES and
// relays a framework's ACKNOWLEDGEMENTS to each agent in one STATUS_ACKS.
// Order within a batch is the order of the updates, so order per task is
// kept. A batch of one may use the single form; receivers accept both.
const (
	TypeStatusUpdates    Type = "STATUS_UPDATES"   // agent → master
	TypeUpdates          Type = "UPDATES"          // master → framework
	TypeAcknowledgements Type = "ACKNOWLEDGEMENTS" // framework → master
	TypeStatusAcks       Type = "STATUS_ACKS"      // master → agent
)

// MaxBatch bounds the entries of one batched message; senders split
// larger batches.
const MaxBatch = 1000

// StatusUpdates carries several status updates from one agent.
type StatusUpdates struct {
	Updates []StatusUpdate `json:"updates"` // at most MaxBatch, each for its own framework
}

// Validate implements Validator.
func (s StatusUpdates) Validate() error {
	if err := batchSize("updates", len(s.Updates)); err != nil {
		return err
	}
	for i, u := range s.Updates {
		if err := u.Validate(); err != nil {
			return fmt.Errorf("updates[%d]: %w", i, err)
		}
	}
	return nil
}

// Updates is the UPDATES event: several task statuses for one framework.
type Updates struct {
	Statuses []TaskStatus `json:"statuses"` // in the order the agents sent them, at most MaxBatch
}

// Validate implements Validator.
func (u Updates) Validate() error {
	if err := batchSize("statuses", len(u.Statuses)); err != nil {
		return err
	}
	for i, s := range u.Statuses {
		if err := s.Validate(); err != nil {
			return fmt.Errorf("statuses[%d]: %w", i, err)
		}
	}
	return nil
}

// Acknowledgements is the ACKNOWLEDGEMENTS call: several ACKNOWLEDGEs in
// one message.
type Acknowledgements struct {
	Acks []Acknowledge `json:"acks"` // at most MaxBatch
}

// Validate implements Validator.
func (a Acknowledgements) Validate() error {
	if err := batchSize("acks", len(a.Acks)); err != nil {
		return err
	}
	for i, ack := range a.Acks {
		if err := ack.Validate(); err != nil {
			return fmt.Errorf("acks[%d]: %w", i, err)
		}
	}
	return nil
}

// StatusAcks relays several acknowledgements to one agent.
type StatusAcks struct {
	Acks []StatusAck `json:"acks"` // at most MaxBatch, all for the receiving agent
}

// Validate implements Validator.
func (s StatusAcks) Validate() error {
	if err := batchSize("acks", len(s.Acks)); err != nil {
		return err
	}
	for i, ack := range s.Acks {
		if err := ack.Validate(); err != nil {
			return fmt.Errorf("acks[%d]: %w", i, err)
		}
	}
	return nil
}

func batchSize(field string, n int) error {
	if n == 0 {
		return fmt.Errorf("missing required field %q", field)
	}
	if n > MaxBatch {
		return fmt.Errorf("%q has %d entries; at most %d per message", field, n, MaxBatch)
	}
	return nil
}

// Chunks splits n items into consecutive [start, end) ranges of at most
// MaxBatch.
func Chunks(n int) [][2]int {
	var out [][2]int
	for i := 0; i < n; i += MaxBatch {
		out = append(out, [2]int{i, min(i+MaxBatch, n)})
	}
	return out
}
