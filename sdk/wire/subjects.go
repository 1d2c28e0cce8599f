package wire

// DefaultPrefix is the subject prefix unless configured otherwise.
const DefaultPrefix = "agora"

// Subjects builds the NATS subjects of one cluster. Every subject carries
// the actor's ID so that NATS permissions can confine an actor to its own.
//
//	<p>.m.agent.<agent>   agent → master: register (request), heartbeat, status
//	<p>.m.fw.<framework>  framework → master: calls (requests)
//	<p>.a.<agent>         master → agent: launch, kill, acks
//	<p>.f.<framework>     master → framework: events
//	<p>.leader            master → all: leader announcements
type Subjects struct {
	Prefix string // first token of every subject ("agora" by default); clusters sharing a NATS use different ones
}

// NewSubjects returns the subjects for prefix ("" means [DefaultPrefix]).
func NewSubjects(prefix string) Subjects {
	if prefix == "" {
		prefix = DefaultPrefix
	}
	return Subjects{Prefix: prefix}
}

// FromAgent is where agent id sends to the master.
func (s Subjects) FromAgent(id AgentID) string { return s.Prefix + ".m.agent." + string(id) }

// FromAgents matches every agent's FromAgent subject.
func (s Subjects) FromAgents() string { return s.Prefix + ".m.agent.*" }

// Call is where framework id sends its calls.
func (s Subjects) Call(id FrameworkID) string { return s.Prefix + ".m.fw." + string(id) }

// Calls matches every framework's Call subject.
func (s Subjects) Calls() string { return s.Prefix + ".m.fw.*" }

// Agent is where the master sends to agent id.
func (s Subjects) Agent(id AgentID) string { return s.Prefix + ".a." + string(id) }

// Framework is where the master sends events for framework id.
func (s Subjects) Framework(id FrameworkID) string { return s.Prefix + ".f." + string(id) }

// Leader carries leader announcements.
func (s Subjects) Leader() string { return s.Prefix + ".leader" }

// LastToken returns the part of subject after its last dot.
func LastToken(subject string) string {
	for i := len(subject) - 1; i >= 0; i-- {
		if subject[i] == '.' {
			return subject[i+1:]
		}
	}
	return subject
}

// Members carries every master's periodic status report.
func (s Subjects) Members() string { return s.Prefix + ".members" }

// InboxPrefix is the reply-inbox prefix of an agent ("agent") or a
// framework ("framework"): clients use it for their requests' replies, so
// that on a secured bus each can be allowed to read only its own.
func InboxPrefix(kind, id string) string { return "_INBOX_" + kind + "." + id }
