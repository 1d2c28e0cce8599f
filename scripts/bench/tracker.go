package bench

import (
	"fmt"
	"sync"
	"time"

	"github.com/agora-cluster/agora/sdk/wire"
)

// taskRec is what the benchmark knows of one task.
type taskRec struct {
	id    wire.TaskID
	fw    *framework
	agent wire.AgentID // where it was last sent

	acceptAt  time.Time // the last ACCEPT that carried it
	runningAt time.Time // its first TASK_RUNNING
	endAt     time.Time
	state     wire.TaskState

	runUUID  string       // UUID of its first agent-sent TASK_RUNNING
	runAgent wire.AgentID // agent of its first TASK_RUNNING

	attempts  int  // ACCEPTs that carried it
	launched  bool // the master launched it (ACCEPT result or an agent's update)
	uncertain bool // an ACCEPT carrying it failed without an answer
	refused   bool // the master refused it in an ACCEPT result
	dup       bool // two TASK_RUNNING with different UUIDs, or on two agents
	terminal  bool
}

// tracker is the state the benchmark's frameworks share: every task, the
// latencies seen, and hooks for the offers scenario. Scheduler callbacks
// and the scenarios' goroutines both use it, under mu.
type tracker struct {
	mu    sync.Mutex
	tasks map[wire.TaskID]*taskRec

	created, launched, running, terminal, refused, dups int
	endStates                                           map[wire.TaskState]int
	acceptFailures                                      map[string]int
	firstAccept, lastRunning                            time.Time
	runLatency                                          []time.Duration

	// Offer latency: agents whose resources were freed at a known time,
	// waiting to be offered again.
	waiting       map[wire.AgentID]chan time.Time
	firstOffer    map[uint64]time.Time // first OFFERS event seen per leader term
	firstSubAt    map[uint64]time.Time // first SUBSCRIBED per leader term
	offersSeen    int
	rescinds      int
	errors        []string
	mark          time.Time // runs accepted after mark count for firstRunAfter
	firstRunMark  time.Time
	next          []chan time.Time // fired by the next OFFERS event
	lastEnd       time.Time
	staleRefusals int
	relaunched    int
	// launchesLost counts tasks that ended before they ran and were
	// launched again under a new ID, by "STATE/REASON": TASK_LOST because
	// their LAUNCH never reached the agent, or (with relaunchEnded) any
	// end before TASK_RUNNING.
	launchesLost map[string]int
	// relaunchEnded: the run wants its tasks running (they hang until
	// killed), so a task that ends before it ran, for whatever reason, is
	// launched again; without it only lost LAUNCHes are.
	relaunchEnded bool
	// inflight counts tasks sent in an ACCEPT that have neither reached
	// TASK_RUNNING nor ended (nor been put back in a queue).
	inflight int
}

func newTracker() *tracker {
	return &tracker{
		tasks:          map[wire.TaskID]*taskRec{},
		endStates:      map[wire.TaskState]int{},
		acceptFailures: map[string]int{},
		waiting:        map[wire.AgentID]chan time.Time{},
		firstOffer:     map[uint64]time.Time{},
		firstSubAt:     map[uint64]time.Time{},
		launchesLost:   map[string]int{},
	}
}

// add registers new tasks.
func (t *tracker) add(recs []*taskRec) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, r := range recs {
		t.tasks[r.id] = r
	}
	t.created += len(recs)
}

// accepting notes that an ACCEPT carrying recs to agent is being sent.
func (t *tracker) accepting(recs []*taskRec, agent wire.AgentID, now time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.firstAccept.IsZero() {
		t.firstAccept = now
	}
	for _, r := range recs {
		r.acceptAt, r.agent = now, agent
		r.attempts++
	}
	t.inflight += len(recs)
}

// release notes that n tasks in flight went back to a queue.
func (t *tracker) release(n int) {
	t.mu.Lock()
	t.inflight -= n
	t.mu.Unlock()
}

// inFlight is the number of tasks in flight.
func (t *tracker) inFlight() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.inflight
}

// accepted applies an ACCEPT's result.
func (t *tracker) accepted(res wire.AcceptResult) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, id := range res.Launched {
		if r := t.tasks[id]; r != nil && !r.launched {
			r.launched = true
			t.launched++
		}
	}
	for _, st := range res.Refused {
		if r := t.tasks[st.TaskID]; r != nil && !r.refused && !(st.Reason == wire.ReasonTaskInvalid && r.attempts > 1) {
			r.refused = true
			t.refused++
		}
	}
}

// acceptFailed counts a failed ACCEPT by what went wrong.
func (t *tracker) acceptFailed(kind string) {
	t.mu.Lock()
	t.acceptFailures[kind]++
	t.mu.Unlock()
}

// launchedNotRunning marks in doubt, and returns, f's tasks that were
// launched but have not reported TASK_RUNNING.
func (t *tracker) launchedNotRunning(f *framework) []*taskRec {
	t.mu.Lock()
	defer t.mu.Unlock()
	var out []*taskRec
	for _, r := range t.tasks {
		if r.fw == f && r.launched && r.runningAt.IsZero() && !r.terminal {
			r.uncertain = true
			out = append(out, r)
		}
	}
	return out
}

// setUncertain marks (or clears) tasks whose launch is in doubt.
func (t *tracker) setUncertain(recs []*taskRec, v bool) {
	t.mu.Lock()
	for _, r := range recs {
		r.uncertain = v
	}
	t.mu.Unlock()
}

// onUpdate records a status update. It returns the task if it was in
// doubt and the master says it does not know it (it may be launched
// again), or nil.
func (t *tracker) onUpdate(st wire.TaskStatus, now time.Time) (relaunch *taskRec) {
	t.mu.Lock()
	defer t.mu.Unlock()
	r := t.tasks[st.TaskID]
	if r == nil {
		return nil
	}
	fromAgent := st.UUID != ""
	if st.State == wire.TaskDropped && st.Reason == wire.ReasonInvalidOffers && !r.launched {
		// The master refused the whole ACCEPT; its error reply put the
		// task back in the queue.
		return nil
	}
	if st.State == wire.TaskError && st.Reason == wire.ReasonTaskInvalid && r.attempts > 1 && st.UUID == "" {
		// A retried task's ACCEPT refused because an earlier ACCEPT (that
		// went unanswered) launched it after all: about the call, not
		// the task.
		t.staleRefusals++
		return nil
	}
	if st.State == wire.TaskUnknown {
		if r.uncertain && r.runningAt.IsZero() && !r.terminal {
			r.uncertain = false
			if r.launched {
				// Launched by an earlier leader, never reached its agent.
				r.launched = false
				t.launched--
				t.relaunched++
			}
			return r
		}
		return nil
	}
	lostLaunch := st.State == wire.TaskLost && !fromAgent && st.Reason == wire.ReasonAgentRestarted
	if (lostLaunch || (t.relaunchEnded && st.State.Terminal())) && r.runningAt.IsZero() && !r.terminal {
		// Its agent re-registered having handled the LAUNCH's number but
		// without the task: the LAUNCH was lost on the way (the agent's
		// NATS connection moved); or, with relaunchEnded, it ended some
		// other way before it ran. As a framework does after TASK_LOST,
		// launch it again, under a new ID (the master keeps the ended one).
		r.terminal, r.endAt, r.state = true, now, st.State
		t.launchesLost[string(st.State)+"/"+string(st.Reason)]++
		n := 0
		for _, c := range t.launchesLost {
			n += c
		}
		next := &taskRec{id: wire.TaskID(fmt.Sprintf("%s-r%d", r.id, n)), fw: r.fw}
		t.tasks[next.id] = next
		return next
	}
	if r.uncertain || (fromAgent && !r.launched) {
		r.uncertain = false
		if !r.launched {
			r.launched = true
			t.launched++
		}
	}
	if r.terminal {
		return nil
	}
	r.state = st.State
	switch {
	case st.State == wire.TaskRunning:
		if fromAgent {
			if r.runUUID == "" {
				r.runUUID, r.runAgent = st.UUID, st.AgentID
			} else if (r.runUUID != st.UUID || r.runAgent != st.AgentID) && !r.dup {
				r.dup = true
				t.dups++
			}
		}
		if r.runningAt.IsZero() {
			r.runningAt = now
			t.inflight--
			t.running++
			t.lastRunning = now
			t.runLatency = append(t.runLatency, now.Sub(r.acceptAt))
			if !t.mark.IsZero() && r.acceptAt.After(t.mark) && t.firstRunMark.IsZero() {
				t.firstRunMark = now
			}
		}
	case st.State.Terminal():
		if r.runningAt.IsZero() {
			t.inflight--
		}
		r.terminal, r.endAt = true, now
		t.lastEnd = now
		t.terminal++
		t.endStates[st.State]++
	}
	return nil
}

// onOffers records offers reaching a framework subscribed in term.
func (t *tracker) onOffers(offers []wire.Offer, term uint64, now time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.offersSeen += len(offers)
	for _, ch := range t.next {
		ch <- now
	}
	t.next = nil
	if _, ok := t.firstOffer[term]; !ok {
		t.firstOffer[term] = now
	}
	for _, o := range offers {
		if ch := t.waiting[o.AgentID]; ch != nil {
			delete(t.waiting, o.AgentID)
			ch <- now
		}
	}
}

// expectOffer arms an offer-latency sample for an agent whose resources
// are about to be freed; the channel receives the offer's arrival time.
func (t *tracker) expectOffer(agent wire.AgentID) chan time.Time {
	ch := make(chan time.Time, 1)
	t.mu.Lock()
	t.waiting[agent] = ch
	t.mu.Unlock()
	return ch
}

// nextOffers returns a channel that receives the time of the next OFFERS
// event (of any framework).
func (t *tracker) nextOffers() chan time.Time {
	ch := make(chan time.Time, 1)
	t.mu.Lock()
	t.next = append(t.next, ch)
	t.mu.Unlock()
	return ch
}

// forget disarms an offer-latency sample.
func (t *tracker) forget(agent wire.AgentID) {
	t.mu.Lock()
	delete(t.waiting, agent)
	t.mu.Unlock()
}

func (t *tracker) onSubscribed(term uint64, now time.Time) {
	t.mu.Lock()
	if _, ok := t.firstSubAt[term]; !ok {
		t.firstSubAt[term] = now
	}
	t.mu.Unlock()
}

func (t *tracker) onError(err error) {
	t.mu.Lock()
	if len(t.errors) < 20 {
		t.errors = append(t.errors, err.Error())
	}
	t.mu.Unlock()
}

// setMark starts watching for the first task accepted after now to run.
func (t *tracker) setMark(now time.Time) {
	t.mu.Lock()
	t.mark, t.firstRunMark = now, time.Time{}
	t.mu.Unlock()
}

// counts is a consistent copy of the tracker's counters.
type counts struct {
	created, launched, running, terminal, refused, dups int
}

func (t *tracker) counts() counts {
	t.mu.Lock()
	defer t.mu.Unlock()
	return counts{t.created, t.launched, t.running, t.terminal, t.refused, t.dups}
}

// firstOfferIn returns the first OFFERS event of a term, if seen.
func (t *tracker) firstOfferIn(term uint64) (time.Time, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	at, ok := t.firstOffer[term]
	return at, ok
}

// firstOfferAfter returns the first OFFERS event of any term > term.
func (t *tracker) firstOfferAfter(term uint64) (time.Time, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	var first time.Time
	for tm, at := range t.firstOffer {
		if tm > term && (first.IsZero() || at.Before(first)) {
			first = at
		}
	}
	return first, !first.IsZero()
}

// TaskCounts is the outcome of a run's tasks.
type TaskCounts struct {
	Created  int `json:"created"`
	Launched int `json:"launched"`
	Running  int `json:"reached_running"`
	Terminal int `json:"terminal"`
	Refused  int `json:"refused"`
	// Lost were launched but never reached a terminal state (only
	// counted by scenarios whose tasks end).
	Lost int `json:"lost"`
	// Duplicated ran twice: TASK_RUNNING with two UUIDs or on two agents.
	Duplicated int `json:"duplicated"`
	// NotLaunched were never launched (still pending or in doubt).
	NotLaunched int `json:"not_launched"`
	// EndStates counts terminal states.
	EndStates map[wire.TaskState]int `json:"end_states,omitempty"`
	// AcceptFailures counts failed ACCEPT calls by cause.
	AcceptFailures map[string]int `json:"accept_failures,omitempty"`
	// StaleRefusals are retried tasks refused because an earlier ACCEPT,
	// unanswered within the SDK's call timeout, was carried out later.
	StaleRefusals int `json:"stale_refusals,omitempty"`
	// Relaunched tasks were launched by a leader that lost leadership
	// before their agent got the launch; reconciliation with the next
	// leader said they were unknown, and they were launched again.
	Relaunched int `json:"relaunched,omitempty"`
	// LaunchesLost tasks ended before they ran: reported TASK_LOST
	// because their agent re-registered after the LAUNCH's number without
	// the task (the message was lost while the agent's NATS connection
	// moved), or, in runs that want their tasks running (scale, state),
	// ended any other way first. Each was launched again under a new ID
	// and is not counted in Created; LaunchesLostBy counts them by
	// "STATE/REASON".
	LaunchesLost   int            `json:"launches_lost,omitempty"`
	LaunchesLostBy map[string]int `json:"launches_lost_by,omitempty"`
	// Retried tasks were carried by more than one ACCEPT: the master
	// refused the first (e.g. no leader), or it went unanswered and
	// reconciliation then said the task was unknown.
	Retried int `json:"retried"`
}

// taskCounts summarises the tasks; with ends, tasks that never ended are
// lost.
func (t *tracker) taskCounts(ends bool) TaskCounts {
	t.mu.Lock()
	defer t.mu.Unlock()
	c := TaskCounts{Created: t.created, Launched: t.launched, Running: t.running, Terminal: t.terminal,
		Refused: t.refused, Duplicated: t.dups, StaleRefusals: t.staleRefusals, Relaunched: t.relaunched, EndStates: map[wire.TaskState]int{}, AcceptFailures: map[string]int{}}
	if len(t.launchesLost) > 0 {
		c.LaunchesLostBy = map[string]int{}
		for k, n := range t.launchesLost {
			c.LaunchesLostBy[k] = n
			c.LaunchesLost += n
		}
	}
	for s, n := range t.endStates {
		c.EndStates[s] = n
	}
	for k, n := range t.acceptFailures {
		c.AcceptFailures[k] = n
	}
	for _, r := range t.tasks {
		switch {
		case !r.launched:
			c.NotLaunched++
		case ends && !r.terminal:
			c.Lost++
		}
		if r.attempts > 1 {
			c.Retried++
		}
	}
	return c
}

// diag describes the tasks between queue and TASK_RUNNING, for progress.
func (t *tracker) diag(fws []*framework) string {
	queued, doubt, held := 0, 0, 0
	for _, f := range fws {
		f.mu.Lock()
		queued += len(f.pending)
		doubt += len(f.uncertain)
		held += len(f.held)
		f.mu.Unlock()
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	out := fmt.Sprintf("in flight %d, queued %d, in doubt %d, offers held %d, failed ACCEPTs %v", t.inflight, queued, doubt, held, t.acceptFailures)
	if len(t.launchesLost) > 0 {
		out += fmt.Sprintf(", ended before running and launched again %v", t.launchesLost)
	}
	if t.terminal > 0 {
		out += fmt.Sprintf(", ended %v", t.endStates)
	}
	return out
}
