// Package spec defines the batch framework's job specification, parses it
// from YAML or JSON, and validates it.
//
// Parsing is strict: an unknown field, a value of the wrong kind or an
// invalid value is reported with its field path (for example
// "jobs[1].retries.backoff") and, where the input has lines, its line
// number. Every problem in a file is reported at once, not just the first.
//
// A file holds one job, or several under a top-level "jobs" list, or (YAML
// only) several documents separated by "---".
package spec
