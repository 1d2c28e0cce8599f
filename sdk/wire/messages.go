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
	Name      string      `json:"name"`                // for people; need not be unique
	Roles     []string    `json:"roles,omitempty"`     // the roles it takes offers for (none: "*"); a role may be restricted to principals
	Principal string      `json:"principal,omitempty"` // who the framework is, checked against role ACLs and NATS logins
	Hostname  string      `json:"hostname,omitempty"`  // where the scheduler runs, for people
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
	Framework FrameworkInfo `json:"framework"` // the framework; the same ID resumes an existing framework
}

// Validate implements Validator.
func (s Subscribe) Validate() error { return s.Framework.Validate() }

// Subscribed answers SUBSCRIBE.
type Subscribed struct {
	FrameworkID       FrameworkID `json:"framework_id"`       // the ID to keep and reuse on every re-subscription
	HeartbeatInterval Duration    `json:"heartbeat_interval"` // how often the master sends HEARTBEAT; three missed mean it is gone
	Leader            LeaderInfo  `json:"leader"`             // the leader that accepted the subscription
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
	Type  OperationType `json:"type"`  // OpLaunch or OpLaunchGroup; both launch Tasks
	Tasks []TaskInfo    `json:"tasks"` // each with the offers' AgentID, resources within the offers
}

// Accept is the ACCEPT call.
type Accept struct {
	OfferIDs   []OfferID   `json:"offer_ids"`            // offers of one agent, used together
	Operations []Operation `json:"operations,omitempty"` // what to do with them; none declines them all
	Filters    Filters     `json:"filters,omitempty"`    // for the resources the operations leave unused
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
	OfferIDs []OfferID `json:"offer_ids"`         // the offers given back
	Filters  Filters   `json:"filters,omitempty"` // how long not to offer them again
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
	Roles []string `json:"roles,omitempty"` // the roles to revive (none: all)
}

// Suppress is the SUPPRESS call; no roles means all of the framework's roles.
type Suppress struct {
	Roles []string `json:"roles,omitempty"` // the roles to suppress (none: all)
}

// Kill is the KILL call.
type Kill struct {
	TaskID  TaskID  `json:"task_id"`            // the task to kill
	AgentID AgentID `json:"agent_id,omitempty"` // where it runs; empty: wherever the master knows it runs
}

// Validate implements Validator.
func (k Kill) Validate() error { return required("task_id", k.TaskID) }

// Shutdown is the SHUTDOWN call: stop every task of the framework on an agent.
type Shutdown struct {
	AgentID AgentID `json:"agent_id"` // the agent whose tasks of the framework are killed
}

// Validate implements Validator.
func (s Shutdown) Validate() error { return required("agent_id", s.AgentID) }

// Acknowledge is the ACKNOWLEDGE call.
type Acknowledge struct {
	AgentID AgentID `json:"agent_id"` // the agent that sent the update (TaskStatus.AgentID)
	TaskID  TaskID  `json:"task_id"`  // the update's task
	UUID    string  `json:"uuid"`     // the update's UUID (TaskStatus.UUID)
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
	TaskID  TaskID  `json:"task_id"`            // the task asked after
	AgentID AgentID `json:"agent_id,omitempty"` // where the framework believes it runs (optional)
}

// Reconcile is the RECONCILE call; an empty list asks for every task the
// master knows of the framework (implicit reconciliation).
type Reconcile struct {
	Tasks []ReconcileTask `json:"tasks,omitempty"` // the tasks asked after; none: every task the master knows of the framework
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
	AgentID AgentID `json:"agent_id"`          // the agent to deliver to
	TaskID  TaskID  `json:"task_id,omitempty"` // the task whose messages file gets Data; empty: all of the framework's tasks on the agent
	Data    []byte  `json:"data"`              // opaque bytes (base64 in JSON)
}

// Validate implements Validator.
func (m Message) Validate() error { return required("agent_id", m.AgentID) }

// ---- scheduler events ----

// Offers is the OFFERS event.
type Offers struct {
	Offers []Offer `json:"offers"` // new offers, each for one agent
}

// Rescind is the RESCIND event.
type Rescind struct {
	OfferID OfferID `json:"offer_id"` // the offer withdrawn; using it fails
}

// Update is the UPDATE event.
type Update struct {
	Status TaskStatus `json:"status"` // the task's new status; acknowledge it if it has a UUID
}

// Validate implements Validator.
func (u Update) Validate() error { return u.Status.Validate() }

// Failure is the FAILURE event: an agent was lost.
type Failure struct {
	AgentID AgentID `json:"agent_id"`          // the agent lost
	Message string  `json:"message,omitempty"` // why, for people
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
	Code    ErrorCode `json:"code"`    // what kind of refusal; switch on it
	Message string    `json:"message"` // detail for people
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
	ID         AgentID           `json:"id"`                   // stable across agent restarts (kept in its work dir)
	Hostname   string            `json:"hostname"`             // the agent's host, for constraints and people
	Resources  Resources         `json:"resources"`            // all the agent offers (cpus and mem must be positive)
	Attributes map[string]string `json:"attributes,omitempty"` // free key/values matched by constraints
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
	FrameworkID FrameworkID `json:"framework_id"`          // the task's framework
	Task        TaskInfo    `json:"task"`                  // the task as launched
	State       TaskState   `json:"state"`                 // its state as the agent last saw it
	UpdateUUID  string      `json:"update_uuid,omitempty"` // the UUID of its unacknowledged terminal update, if any
}

// RegisterAgent is sent by an agent to register or re-register.
//
// SeenTerm and SeenSeq name the last numbered message (LAUNCH or
// REREGISTER, see Launch.Seq) the agent had handled when it listed Tasks:
// the leader of that term knows the list includes every task it launched
// up to that number, and does not call a task launched later lost for
// being absent.
type RegisterAgent struct {
	Agent    AgentInfo     `json:"agent"`               // who the agent is and what it has
	Tasks    []RunningTask `json:"tasks,omitempty"`     // every task it runs, and ended tasks not yet acknowledged
	SeenTerm uint64        `json:"seen_term,omitempty"` // term of the last numbered message handled
	SeenSeq  uint64        `json:"seen_seq,omitempty"`  // number of the last numbered message handled in SeenTerm
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
	AgentID           AgentID    `json:"agent_id"`                  // the registered agent
	HeartbeatInterval Duration   `json:"heartbeat_interval"`        // how often the agent must heartbeat
	Leader            LeaderInfo `json:"leader"`                    // the leader that registered it
	RegisterSpread    Duration   `json:"register_spread,omitempty"` // the window to spread re-registrations over (0: none)
}

// AgentHeartbeat is sent periodically by a registered agent. Every few
// heartbeats it carries the resource usage of its running tasks.
type AgentHeartbeat struct {
	AgentID AgentID     `json:"agent_id"`        // the heartbeating agent
	Usage   []TaskUsage `json:"usage,omitempty"` // usage of its running tasks, every few heartbeats
}

// TaskUsage is what a task's processes use (CPU seconds so far, resident
// memory now), measured by the agent.
type TaskUsage struct {
	FrameworkID FrameworkID `json:"framework_id"` // the task's framework
	TaskID      TaskID      `json:"task_id"`      // the task measured
	CPUSeconds  float64     `json:"cpu_seconds"`  // CPU time used so far, user plus system
	RSSBytes    uint64      `json:"rss_bytes"`    // resident memory now
	Processes   int         `json:"processes"`    // processes in the task now
}

// StatusUpdate carries a task status from an agent to the master.
type StatusUpdate struct {
	FrameworkID FrameworkID `json:"framework_id"` // the framework to tell
	Status      TaskStatus  `json:"status"`       // the task's new status, with a UUID to acknowledge
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
	FrameworkID FrameworkID `json:"framework_id"`  // the tasks' framework
	Tasks       []TaskInfo  `json:"tasks"`         // the tasks to start
	Seq         uint64      `json:"seq,omitempty"` // this message's number within the term
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
	FrameworkID FrameworkID `json:"framework_id"`     // the task's framework
	TaskID      TaskID      `json:"task_id"`          // the task to kill
	Reason      Reason      `json:"reason,omitempty"` // the reason its terminal update carries
}

// Validate implements Validator.
func (k KillTask) Validate() error { return required("task_id", k.TaskID) }

// StatusAck relays a framework's acknowledgement to the agent.
type StatusAck struct {
	FrameworkID FrameworkID `json:"framework_id"` // the acknowledging framework
	TaskID      TaskID      `json:"task_id"`      // the acknowledged update's task
	UUID        string      `json:"uuid"`         // the acknowledged update's UUID; the agent stops resending it
}

// Validate implements Validator.
func (s StatusAck) Validate() error { return required("uuid", s.UUID) }

// ShutdownFramework asks an agent to kill every task of a framework.
type ShutdownFramework struct {
	FrameworkID FrameworkID `json:"framework_id"` // the framework whose tasks are killed
}

// Validate implements Validator.
func (s ShutdownFramework) Validate() error { return required("framework_id", s.FrameworkID) }

// Reregister asks an agent to register again, listing its tasks. Seq is
// numbered with the agent's LAUNCH messages (see Launch.Seq).
type Reregister struct {
	LeaderInfo        // the leader asking
	Seq        uint64 `json:"seq,omitempty"` // this message's number within the term
}

// LeaderInfo says who leads. In the leader's periodic announcements,
// AgentHeartbeat is the heartbeat interval it asks of agents now (it grows
// with the cluster); registered agents adopt it.
type LeaderInfo struct {
	Name           string   `json:"name"`                      // the leading master's name
	Term           uint64   `json:"term"`                      // its raft term; higher terms win
	HTTP           string   `json:"http,omitempty"`            // its HTTP API address (host:port)
	AgentHeartbeat Duration `json:"agent_heartbeat,omitempty"` // the heartbeat interval asked of agents now
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
	Message string `json:"message,omitempty"` // what was not done, if anything
}

// AcceptResult answers ACCEPT: the tasks sent to the agent, and those
// refused (each also reported by a TASK_ERROR or TASK_DROPPED update).
type AcceptResult struct {
	Launched []TaskID     `json:"launched,omitempty"` // the tasks sent to the agent
	Refused  []TaskStatus `json:"refused,omitempty"`  // the tasks not launched, with why
}

// ReconcileResult answers RECONCILE: how many statuses were sent as
// updates; which asked-for tasks may be on agents that have not yet
// re-registered with a new leader (each is answered, by an update, once
// its agent re-registers or is marked unreachable); and, for an implicit
// reconciliation, how many such agents there are (the non-terminal tasks
// each reports when it re-registers are sent as updates then).
type ReconcileResult struct {
	Answered      int      `json:"answered"`                 // statuses sent as updates now
	Pending       []TaskID `json:"pending,omitempty"`        // asked tasks answered once their agents re-register
	AwaitedAgents int      `json:"awaited_agents,omitempty"` // agents not yet re-registered (implicit reconciliation)
}

// FrameworkMessage relays a framework's MESSAGE to an agent.
type FrameworkMessage struct {
	FrameworkID FrameworkID `json:"framework_id"` // the sending framework
	Message     Message     `json:"message"`      // the framework's MESSAGE call
}

// TypeMember is a master's periodic report of itself, on [Subjects.Members].
const TypeMember Type = "MEMBER"

// MemberStatus is what a master reports of itself.
type MemberStatus struct {
	Name      string `json:"name"`           // the master's name
	RaftState string `json:"raft_state"`     // Leader, Follower, Candidate or Shutdown
	HTTP      string `json:"http,omitempty"` // its HTTP API address (host:port)
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
	FrameworkID FrameworkID `json:"framework_id"`   // the task's framework
	TaskID      TaskID      `json:"task_id"`        // the task whose latest sandbox is read
	Path        string      `json:"path,omitempty"` // a file relative to the sandbox; empty lists the files
	// Offset is where to start; a negative offset counts from the end
	// (tail). Length bounds the answer (at most 1 MiB).
	Offset int64 `json:"offset,omitempty"`
	Length int64 `json:"length,omitempty"` // at most this many bytes (0: up to 1 MiB)
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
	Path string `json:"path"` // relative to the sandbox
	Size int64  `json:"size"` // in bytes
}

// SandboxData answers SandboxRead: the bytes read (Offset is where they
// start, Size the file's size), or the listing.
type SandboxData struct {
	Sandbox string        `json:"sandbox"`         // the sandbox directory on the agent
	Offset  int64         `json:"offset"`          // where Data starts in the file
	Size    int64         `json:"size"`            // the file's size in bytes
	Data    []byte        `json:"data,omitempty"`  // the bytes read
	Files   []SandboxFile `json:"files,omitempty"` // the listing, when no Path was asked
}
