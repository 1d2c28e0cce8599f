package master

// NATSAddr is the address the master's NATS connection is connected to:
// "pipe" for an in-process connection.
func (m *Master) NATSAddr() string { return m.nc.ConnectedAddr() }
