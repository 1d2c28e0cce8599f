// Package wire is Agora's wire protocol: the messages that masters, agents
// and framework schedulers exchange over NATS, the subjects they travel on,
// and the one codec that encodes them.
//
// Every message is an [Envelope]: a protocol version, a message type, the
// sender, and — on everything a master sends — the leader's raft term. A
// receiver keeps the highest term it has seen (see [TermFence]) and drops
// anything older, so a deposed leader can neither offer, launch nor kill.
//
// Calls and events are named after the Mesos v1 scheduler API. Framework
// calls are NATS requests answered by a [Response]; offers, status updates
// and heartbeats are one-way publishes.
//
// Decoding never panics on hostile input: [Decode] and [DecodeBody] return
// an error for malformed bytes, unknown versions and missing required fields,
// and ignore unknown fields.
package wire
