// Package service is Agora's bundled long-running service framework — its
// Marathon. `agora service serve` runs the framework: it subscribes to the
// masters as framework "service", keeps its state (apps, versions,
// instances, deployments) in a bbolt file in its data directory, and
// serves an HTTP API and an SSE event stream. The other `agora service`
// commands are clients of that API.
//
// An app (see package spec) is a command run as N instances with
// resources, ports, placement constraints (package sdk/constraint) and
// health checks. The controller (package controller) keeps N healthy
// instances running, restarts failed ones with backoff, replaces those on
// unreachable agents, and moves apps to new versions with rolling
// deployments bounded by min_health_capacity and max_over_capacity,
// rolling back automatically past a deadline when asked.
//
// A restarted framework resumes as the same framework (its ID is kept in
// the data directory), reconciles, and adopts its running instances: it
// does not launch them again.
//
// HTTP and TCP health checks are probed by the framework process, from
// outside, at the agent's host and the instance's port; an app's COMMAND
// check is sent with each task and run by the agent in the instance's
// sandbox, and the health the agent reports on the task's updates joins
// the framework's results (the agent kills a task that fails it; the
// framework counts that for restart backoff). Config.ProbeHost maps
// agent hostnames that the framework cannot resolve (as in `agora dev`,
// where agents are called agent1, agent2...) to a reachable host.
//
// HTTP API (JSON; errors are {"error", "code", "fields"}):
//
//	GET    /v1/apps                    status of every app
//	POST   /v1/apps                    deploy a spec (YAML or JSON body)
//	GET    /v1/apps/{id}               status of one app, with its instances
//	DELETE /v1/apps/{id}               kill every instance, then forget the app
//	POST   /v1/apps/{id}/scale         {"instances": N}
//	POST   /v1/apps/{id}/restart       rolling restart
//	POST   /v1/apps/{id}/rollback      {"to": V} (0 or absent: the previous version)
//	GET    /v1/apps/{id}/versions      every version, oldest first
//	GET    /v1/apps/{id}/endpoints     host:port of healthy instances
//	GET    /v1/apps/{id}/deployments   recent deployments
//	GET    /v1/deployments/{id}        one deployment with its steps
//	GET    /v1/events                  SSE stream (?app=ID; Last-Event-ID or ?since=N resumes)
//	GET    /healthz                    framework ID and subscription state
package service
