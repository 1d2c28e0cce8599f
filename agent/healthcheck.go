package agent

import (
	"context"
	"fmt"
	"os"

	"github.com/agora-cluster/agora/agent/health"
	"github.com/agora-cluster/agora/sdk/wire"
)

// startHealthCheck runs the task's health check until the task ends. Each
// change of health is sent as a TASK_RUNNING update with Healthy set; a
// task that fails its checks is killed with reason REASON_TASK_UNHEALTHY.
func (a *Agent) startHealthCheck(k taskKey, t *task) {
	hc := t.info.HealthCheck
	if hc == nil || t.info.Sim != nil {
		return
	}
	ports := t.info.Resources.Ports.List()
	env := []string{"PATH=" + os.Getenv("PATH"), "AGORA_TASK_ID=" + string(k.task), "AGORA_SANDBOX=" + t.proc.Sandbox()}
	for key, v := range t.info.Env {
		env = append(env, key+"="+v)
	}
	for i, p := range ports {
		env = append(env, fmt.Sprintf("PORT%d=%d", i, p))
	}
	if len(ports) > 0 {
		env = append(env, fmt.Sprintf("PORT=%d", ports[0]))
	}
	target := health.Target{Ports: ports, Dir: t.proc.Sandbox(), Env: env}
	ctx, cancel := context.WithCancel(a.ctx)
	a.goFunc(func() {
		defer cancel()
		select {
		case <-t.proc.Done():
		case <-ctx.Done():
		}
	})
	a.goFunc(func() {
		health.Run(ctx, *hc, target, func(e health.Event) {
			healthy := e.Healthy
			st := wire.TaskStatus{
				TaskID: k.task, AgentID: a.id, State: wire.TaskRunning, Message: e.Message,
				Source: wire.SourceAgent, UUID: wire.NewUUID(), Healthy: &healthy, Timestamp: nowUTC(),
			}
			if e.Unhealthy {
				a.log.Warn("task unhealthy; killing it", "task", k.task, "why", e.Message)
				t.proc.Kill(a.killGrace(t.info), wire.ReasonTaskUnhealthy)
				return
			}
			a.mu.Lock()
			done := t.done
			a.mu.Unlock()
			if !done {
				if err := a.upd.add(wire.StatusUpdate{FrameworkID: k.fw, Status: st}); err != nil {
					a.upd.enqueue(wire.StatusUpdate{FrameworkID: k.fw, Status: st})
				}
			}
		})
	})
}
