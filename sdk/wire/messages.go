package wire

import (
	"fmt"
	"strings"
)

// Type names a message. New types are only ever appended.
type Type string

// Scheduler calls: framework → master, NATS requests on [Subjects.Call].
// The reply is [TypeAck] or [TypeError]; SUBSCRIBE is answered by
// [TypeSubscribed].
const (
	TypeSubscribe   Type = "SUBSCRIBE"
	TypeTeardown    Type = "TEARDOWN"
	TypeAccept      Type = "ACCEPT"
	TypeDecline     Type = "DECLINE"
	TypeRevive      Type = "REVIVE"
	TypeSuppress    Type = "SUPPRESS"
	TypeKill        Type = "KILL"
	TypeShutdown    Type = "SHUTDOWN"
	TypeAcknowledge Type = "ACKNOWLEDGE"
	TypeReconcile   Type = "RECONCILE"
	TypeMessage     Type = "MESSAGE"
)

// Scheduler events: master → framework, published on [Subjects.Framework].
const (
	TypeSubscribed Type = "SUBSCRIBED"
	TypeOffers     Type = "OFFERS"
	TypeRescind    Type = "RESCIND"
	TypeUpdate     Type = "UPDATE"
	TypeFailure    Type = "FAILURE"
	TypeError      Type = "ERROR"
	TypeHeartbeat  Type = "HEARTBEAT"
)

// Replies to requests.
const (
	TypeAck Type = "ACK"
)

// Agent ↔ master.
const (
	// Agent → master (request): register or re-register.
	TypeRegisterAgent Type = "REGISTER_AGENT"
	// Master → agent (reply).
	TypeAgentRegistered Type = "AGENT_REGISTERED"
	// Agent → master (publish).
	TypeAgentHeartbeat Type = "AGENT_HEARTBEAT"
	TypeStatusUpdate   Type = "STATUS_UPDATE"
	// Master → agent (publish).
	TypeLaunch            Type = "LAUNCH"
	TypeKillTask          Type = "KILL_TASK"
	TypeStatusAck         Type = "STATUS_ACK"
	TypeShutdownFramework Type = "SHUTDOWN_FRAMEWORK"
	TypeReregister        Type = "REREGISTER"
	TypeFrameworkMessage  Type = "FRAMEWORK_MESSAGE"
)

// Master → everyone (publish on [Subjects.Leader]).
const (
	TypeLeader Type = "LEADER"
)

// ---- scheduler calls ----

// FrameworkInfo describes a framework when it subscribes.
type FrameworkInfo struct {
	// ID is chosen by the framework (the SDK makes a random one) and
	// reused on every re-subscription.
	ID        FrameworkID `json:"id"`
	Name      string      `json:"name"`
	Roles     []string    `json:"roles,omitempty"`
	Principal string      `json:"principal,omitempty"`
	Hostname  string      `json:"hostname,omitempty"`
	// FailoverTimeout is how long the master keeps the framework's tasks
	// after it disconnects.
	FailoverTimeout Duration `json:"failover_timeout,omitempty"`
	// WebUIURL is where the framework serves its own API or UI; the
	// masters' web UI links to it.
	WebUIURL string `json:"webui_url,omitempty"`
}

// Validate checks the framework's identity.
func (f FrameworkInfo) Validate() error {
	if err := ValidID("id", string(f.ID)); err != nil {
		return err
	}
	if err := required("name", f.Name); err != nil {
		return err
	}
	for _, r := range f.Roles {
		if err := ValidRole(r); err != nil {
			return err
		}
	}
	if f.FailoverTimeout < 0 {
		return fmt.Errorf("negative failover_timeout")
	}
	return nil
}

// Subscribe is the SUBSCRIBE call.
type Subscribe struct {
	Framework FrameworkInfo `json:"framework"`
}

// Validate implements Validator.
func (s Subscribe) Validate() error { return s.Framework.Validate() }

// Subscribed answers SUBSCRIBE.
type Subscribed struct {
	FrameworkID       FrameworkID `json:"framework_id"`
	HeartbeatInterval Duration    `json:"heartbeat_interval"`
	Leader            LeaderInfo  `json:"leader"`
}

// Filters go with DECLINE and ACCEPT.
type Filters struct {
	// RefuseSeconds is how long the declined resources are not offered to
	// this framework again. Nil means the default of 5 s.
	RefuseSeconds *float64 `json:"refuse_seconds,omitempty"`
}

// OperationType names an ACCEPT operation.
type OperationType string

// Operation types.
const (
	OpLaunch      OperationType = "LAUNCH"
	OpLaunchGroup OperationType = "LAUNCH_GROUP"
)

// Operation is one ACCEPT operation.
type Operation struct {
	Type  OperationType `json:"type"`
	Tasks []TaskInfo    `json:"tasks"`
}

// Accept is the ACCEPT call.
type Accept struct {
	OfferIDs   []OfferID   `json:"offer_ids"`
	Operations []Operation `json:"operations,omitempty"`
	Filters    Filters     `json:"filters,omitempty"`
}

// Validate implements Validator.
func (a Accept) Validate() error {
	if len(a.OfferIDs) == 0 {
		return fmt.Errorf("missing required field \"offer_ids\"")
	}
	for i, op := range a.Operations {
		if op.Type != OpLaunch && op.Type != OpLaunchGroup {
			return fmt.Errorf("operations[%d]: unknown type %q", i, op.Type)
		}
	}
	return nil
}

// Decline is the DECLINE call.
type Decline struct {
	OfferIDs []OfferID `json:"offer_ids"`
	Filters  Filters   `json:"filters,omitempty"`
}

// Validate implements Validator.
func (d Decline) Validate() error {
	if len(d.OfferIDs) == 0 {
		return fmt.Errorf("missing required field \"offer_ids\"")
	}
	return nil
}

// Revive is the REVIVE call; no roles means all of the framework's roles.
type Revive struct {
	Roles []string `json:"roles,omitempty"`
}

// Suppress is the SUPPRESS call; no roles means all of the framework's roles.
type Suppress struct {
	Roles []string `json:"roles,omitempty"`
}

// Kill is the KILL call.
type Kill struct {
	TaskID  TaskID  `json:"task_id"`
	AgentID AgentID `json:"agent_id,omitempty"`
}

// Validate implements Validator.
func (k Kill) Validate() error { return required("task_id", k.TaskID) }

// Shutdown is the SHUTDOWN call: stop every task of the framework on an agent.
type Shutdown struct {
	AgentID AgentID `json:"agent_id"`
}

// Validate implements Validator.
func (s Shutdown) Validate() error { return required("agent_id", s.AgentID) }

// Acknowledge is the ACKNOWLEDGE call.
type Acknowledge struct {
	AgentID AgentID `json:"agent_id"`
	TaskID  TaskID  `json:"task_id"`
	UUID    string  `json:"uuid"`
}

// Validate implements Validator.
func (a Acknowledge) Validate() error {
	if err := required("agent_id", a.AgentID); err != nil {
		return err
	}
	if err := required("task_id", a.TaskID); err != nil {
		return err
	}
	return required("uuid", a.UUID)
}

// ReconcileTask names one task to reconcile.
type ReconcileTask struct {
	TaskID  TaskID  `json:"task_id"`
	AgentID AgentID `json:"agent_id,omitempty"`
}

// Reconcile is the RECONCILE call; an empty list asks for every task the
// master knows of the framework (implicit reconciliation).
type Reconcile struct {
	Tasks []ReconcileTask `json:"tasks,omitempty"`
}

// Validate implements Validator.
func (r Reconcile) Validate() error {
	for i, t := range r.Tasks {
		if t.TaskID == "" {
			return fmt.Errorf("tasks[%d]: missing required field \"task_id\"", i)
		}
	}
	return nil
}

// Message carries opaque data between a framework and its tasks' agent.
type Message struct {
	AgentID AgentID `json:"agent_id"`
	TaskID  TaskID  `json:"task_id,omitempty"`
	Data    []byte  `json:"data"`
}

// Validate implements Validator.
func (m Message) Validate() error { return required("agent_id", m.AgentID) }

// ---- scheduler events ----

// Offers is the OFFERS event.
type Offers struct {
	Offers []Offer `json:"offers"`
}

// Rescind is the RESCIND event.
type Rescind struct {
	OfferID OfferID `json:"offer_id"`
}

// Update is the UPDATE event.
type Update struct {
	Status TaskStatus `json:"status"`
}

// Validate implements Validator.
func (u Update) Validate() error { return u.Status.Validate() }

// Failure is the FAILURE event: an agent was lost.
type Failure struct {
	AgentID AgentID `json:"agent_id"`
	Message string  `json:"message,omitempty"`
}

// Heartbeat is the HEARTBEAT event.
type Heartbeat struct{}

// ---- errors ----

// ErrorCode classifies a refused call. Callers switch on it; they never
// match error strings.
type ErrorCode string

// Error codes.
const (
	CodeInvalid          ErrorCode = "INVALID"
	CodeNotLeader        ErrorCode = "NOT_LEADER"
	CodeUnknownFramework ErrorCode = "UNKNOWN_FRAMEWORK"
	CodeUnknownAgent     ErrorCode = "UNKNOWN_AGENT"
	CodeUnknownOffer     ErrorCode = "UNKNOWN_OFFER"
	CodeForbidden        ErrorCode = "FORBIDDEN"
	CodeConflict         ErrorCode = "CONFLICT"
	CodeUnavailable      ErrorCode = "UNAVAILABLE"
	CodeInternal         ErrorCode = "INTERNAL"
	CodeRateLimited      ErrorCode = "RATE_LIMITED"
)

// Error is the body of an ERROR reply or event.
type Error struct {
	Code    ErrorCode `json:"code"`
	Message string    `json:"message"`
}

// Error implements error: "CODE: message".
func (e *Error) Error() string { return string(e.Code) + ": " + e.Message }

// Errorf builds an *Error.
func Errorf(code ErrorCode, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ReplyError turns a reply envelope into an error: nil for any type but
// ERROR, the decoded *Error for ERROR.
func ReplyError(e Envelope) error {
	if e.Type != TypeError {
		return nil
	}
	var we Error
	if err := DecodeBody(e, &we); err != nil {
		return err
	}
	if we.Code == "" {
		we.Code = CodeInternal
	}
	return &we
}

// ---- agent ↔ master ----

// AgentInfo describes an agent.
type AgentInfo struct {
	ID         AgentID           `json:"id"`
	Hostname   string            `json:"hostname"`
	Resources  Resources         `json:"resources"`
	Attributes map[string]string `json:"attributes,omitempty"`
	// Isolation says how tasks are confined ("cgroups-v1", "none: ...").
	Isolation string `json:"isolation,omitempty"`
	// Address is where the agent serves sandbox files, if it does.
	Address string `json:"address,omitempty"`
}

// Validate implements Validator.
func (a AgentInfo) Validate() error {
	if err := ValidID("id", string(a.ID)); err != nil {
		return err
	}
	if err := required("hostname", a.Hostname); err != nil {
		return err
	}
	if err := a.Resources.Validate(); err != nil {
		return err
	}
	if a.Resources.CPUs <= 0 || a.Resources.MemMB <= 0 {
		return fmt.Errorf("agent %s has no cpus or no mem (%s)", a.ID, a.Resources)
	}
	return nil
}

// RunningTask is what an agent reports of a task when it re-registers.
// A task that ended but whose terminal update is not yet acknowledged is
// reported too, with its terminal State and that update's UUID.
type RunningTask struct {
	FrameworkID FrameworkID `json:"framework_id"`
	Task        TaskInfo    `json:"task"`
	State       TaskState   `json:"state"`
	UpdateUUID  string      `json:"update_uuid,omitempty"`
}

// RegisterAgent is sent by an agent to register or re-register.
//
// SeenTerm and SeenSeq name the last numbered message (LAUNCH or
// REREGISTER, see Launch.Seq) the agent had handled when it listed Tasks:
// the leader of that term knows the list includes every task it launched
// up to that number, and does not call a task launched later lost for
// being absent.
type RegisterAgent struct {
	Agent    AgentInfo     `json:"agent"`
	Tasks    []RunningTask `json:"tasks,omitempty"`
	SeenTerm uint64        `json:"seen_term,omitempty"`
	SeenSeq  uint64        `json:"seen_seq,omitempty"`
}

// Validate implements Validator.
func (r RegisterAgent) Validate() error { return r.Agent.Validate() }

// AgentRegistered answers RegisterAgent.
//
// RegisterSpread, when set, is how long an agent spreads its registration
// with a new leader over: it waits a random time up to it after the
// announcement, so that a large cluster's agents do not all register at
// the same instant.
type AgentRegistered struct {
	AgentID           AgentID    `json:"agent_id"`
	HeartbeatInterval Duration   `json:"heartbeat_interval"`
	Leader            LeaderInfo `json:"leader"`
	RegisterSpread    Duration   `json:"register_spread,omitempty"`
}

// AgentHeartbeat is sent periodically by a registered agent. Every few
// heartbeats it carries the resource usage of its running tasks.
type AgentHeartbeat struct {
	AgentID AgentID     `json:"agent_id"`
	Usage   []TaskUsage `json:"usage,omitempty"`
}

// TaskUsage is what a task's processes use (CPU seconds so far, resident
// memory now), measured by the agent.
type TaskUsage struct {
	FrameworkID FrameworkID `json:"framework_id"`
	TaskID      TaskID      `json:"task_id"`
	CPUSeconds  float64     `json:"cpu_seconds"`
	RSSBytes    uint64      `json:"rss_bytes"`
	Processes   int         `json:"processes"`
}

// StatusUpdate carries a task status from an agent to the master.
type StatusUpdate struct {
	FrameworkID FrameworkID `json:"framework_id"`
	Status      TaskStatus  `json:"status"`
}

// Validate implements Validator.
func (s StatusUpdate) Validate() error {
	if err := required("framework_id", s.FrameworkID); err != nil {
		return err
	}
	return s.Status.Validate()
}

// Launch asks an agent to run tasks.
//
// Seq numbers the LAUNCH and REREGISTER messages a leader sends one agent,
// from 1 within the leader's term, in the order they are sent. The agent
// echoes the highest it has handled in its registrations (RegisterAgent.
// SeenSeq).
type Launch struct {
	FrameworkID FrameworkID `json:"framework_id"`
	Tasks       []TaskInfo  `json:"tasks"`
	Seq         uint64      `json:"seq,omitempty"`
}

// Validate implements Validator.
func (l Launch) Validate() error {
	if err := required("framework_id", l.FrameworkID); err != nil {
		return err
	}
	for _, t := range l.Tasks {
		if err := t.Validate(); err != nil {
			return err
		}
	}
	return nil
}

// KillTask asks an agent to kill a task.
type KillTask struct {
	FrameworkID FrameworkID `json:"framework_id"`
	TaskID      TaskID      `json:"task_id"`
	Reason      Reason      `json:"reason,omitempty"`
}

// Validate implements Validator.
func (k KillTask) Validate() error { return required("task_id", k.TaskID) }

// StatusAck relays a framework's acknowledgement to the agent.
type StatusAck struct {
	FrameworkID FrameworkID `json:"framework_id"`
	TaskID      TaskID      `json:"task_id"`
	UUID        string      `json:"uuid"`
}

// Validate implements Validator.
func (s StatusAck) Validate() error { return required("uuid", s.UUID) }

// ShutdownFramework asks an agent to kill every task of a framework.
type ShutdownFramework struct {
	FrameworkID FrameworkID `json:"framework_id"`
}

// Validate implements Validator.
func (s ShutdownFramework) Validate() error { return required("framework_id", s.FrameworkID) }

// Reregister asks an agent to register again, listing its tasks. Seq is
// numbered with the agent's LAUNCH messages (see Launch.Seq).
type Reregister struct {
	LeaderInfo
	Seq uint64 `json:"seq,omitempty"`
}

// LeaderInfo says who leads. In the leader's periodic announcements,
// AgentHeartbeat is the heartbeat interval it asks of agents now (it grows
// with the cluster); registered agents adopt it.
type LeaderInfo struct {
	Name           string   `json:"name"`
	Term           uint64   `json:"term"`
	HTTP           string   `json:"http,omitempty"`
	AgentHeartbeat Duration `json:"agent_heartbeat,omitempty"`
}

// Validate implements Validator.
func (l LeaderInfo) Validate() error { return required("name", l.Name) }

// DefaultRole is the role of frameworks that name none.
const DefaultRole = "*"

// ValidRole accepts "*" (the default role) and any valid ID.
func ValidRole(role string) error {
	if role == DefaultRole {
		return nil
	}
	return ValidID("role", role)
}

// ValidID rejects IDs that are empty, too long, or would break a NATS
// subject (dots, wildcards, white space).
func ValidID(field, id string) error {
	if id == "" {
		return fmt.Errorf("missing required field %q", field)
	}
	if len(id) > 200 {
		return fmt.Errorf("%s: longer than 200 characters", field)
	}
	if strings.ContainsAny(id, ".*>/\\ \t\r\n") {
		return fmt.Errorf("%s %q: must not contain '.', '*', '>', '/', '\\' or white space", field, id)
	}
	return nil
}

// Ack is the body of a successful reply. Message may explain what was
// done when it was not everything asked.
type Ack struct {
	Message string `json:"message,omitempty"`
}

// AcceptResult answers ACCEPT: the tasks sent to the agent, and those
// refused (each also reported by a TASK_ERROR or TASK_DROPPED update).
type AcceptResult struct {
	Launched []TaskID     `json:"launched,omitempty"`
	Refused  []TaskStatus `json:"refused,omitempty"`
}

// ReconcileResult answers RECONCILE: how many statuses were sent as
// updates; which asked-for tasks may be on agents that have not yet
// re-registered with a new leader (each is answered, by an update, once
// its agent re-registers or is marked unreachable); and, for an implicit
// reconciliation, how many such agents there are (the non-terminal tasks
// each reports when it re-registers are sent as updates then).
type ReconcileResult struct {
	Answered      int      `json:"answered"`
	Pending       []TaskID `json:"pending,omitempty"`
	AwaitedAgents int      `json:"awaited_agents,omitempty"`
}

// FrameworkMessage relays a framework's MESSAGE to an agent.
type FrameworkMessage struct {
	FrameworkID FrameworkID `json:"framework_id"`
	Message     Message     `json:"message"`
}

// TypeMember is a master's periodic report of itself, on [Subjects.Members].
const TypeMember Type = "MEMBER"

// MemberStatus is what a master reports of itself.
type MemberStatus struct {
	Name      string `json:"name"`
	RaftState string `json:"raft_state"`
	HTTP      string `json:"http,omitempty"`
}

// TypeSandboxRead asks an agent (a request on [Subjects.Agent]) for part
// of a file in a task's sandbox; the reply is [TypeSandboxData] or
// [TypeError].
const (
	TypeSandboxRead Type = "SANDBOX_READ"
	TypeSandboxData Type = "SANDBOX_DATA"
)

// SandboxRead names a file in a task's latest sandbox. An empty Path
// lists the sandbox's files.
type SandboxRead struct {
	FrameworkID FrameworkID `json:"framework_id"`
	TaskID      TaskID      `json:"task_id"`
	Path        string      `json:"path,omitempty"`
	// Offset is where to start; a negative offset counts from the end
	// (tail). Length bounds the answer (at most 1 MiB).
	Offset int64 `json:"offset,omitempty"`
	Length int64 `json:"length,omitempty"`
}

// Validate implements Validator.
func (s SandboxRead) Validate() error {
	if err := ValidID("framework_id", string(s.FrameworkID)); err != nil {
		return err
	}
	return ValidID("task_id", string(s.TaskID))
}

// SandboxFile is one file of a sandbox listing.
type SandboxFile struct {
	Path string `json:"path"`
	Size int64  `json:"size"`
}

// SandboxData answers SandboxRead: the bytes read (Offset is where they
// start, Size the file's size), or the listing.
type SandboxData struct {
	Sandbox string        `json:"sandbox"`
	Offset  int64         `json:"offset"`
	Size    int64         `json:"size"`
	Data    []byte        `json:"data,omitempty"`
	Files   []SandboxFile `json:"files,omitempty"`
}
