// Package api is the batch framework's HTTP API: the server side over an
// engine, and the client the CLI uses.
//
// All paths are under /api/v1; bodies are JSON except job files, which are
// posted as YAML or JSON exactly as written. Errors are JSON
// {"code", "message", "fields"}, with "fields" listing each bad field of a
// rejected job file:
//
//	POST   /api/v1/jobs                      submit a job file (?run=false: store only)
//	GET    /api/v1/jobs                      every job's status
//	GET    /api/v1/jobs/{job}                one job's status
//	DELETE /api/v1/jobs/{job}                remove (?force=true kills active runs)
//	POST   /api/v1/jobs/{job}/runs           start a run now
//	GET    /api/v1/jobs/{job}/runs           history (?limit=N&before=ID)
//	POST   /api/v1/jobs/{job}/kill           kill the active runs
//	GET    /api/v1/jobs/{job}/logs           task output (?run=&task=&attempt=&stream=&offset=&limit=)
//	GET    /api/v1/runs/{id}                 one run (?attempts=true; ?wait=2s waits for a change)
//	POST   /api/v1/runs/{id}/kill            kill one run
//	GET    /api/v1/info                      framework ID and name
//	GET    /healthz                          200 when serving
//
// The framework's server (package batch) also serves Prometheus metrics,
// agora_batch_*, at GET /metrics on the same listener.
package api
