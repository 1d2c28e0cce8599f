// Package natsembed runs a NATS server inside a master process. The three
// masters' embedded servers route to each other and form one NATS cluster,
// so a fresh install needs no separate message bus.
package natsembed

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// Config says where the embedded server listens and whom it routes to.
type Config struct {
	// Name identifies the server in the NATS cluster.
	Name string
	// Listen is the client address, "host:port"; port -1 or 0 picks a free
	// port. Empty means "127.0.0.1:-1".
	Listen string
	// Cluster is the route listener, "host:port" (port -1 for a free one).
	// Empty means no clustering.
	Cluster string
	// ClusterName names the NATS cluster; all members must agree.
	ClusterName string
	// Routes are the other members' route URLs ("nats-route://host:port").
	Routes []string
	// ClusterUser and ClusterPassword, if set, are the credentials a
	// route must present to this server's route listener, and the ones
	// this server presents on its own routes (a route URL that carries
	// user:password@ keeps its own). Empty with Auth set means the master
	// identity's: masters that share an auth file authenticate their
	// routes with no further setting. Every member must agree.
	ClusterUser, ClusterPassword string
	// MaxPayload bounds one message (0 = the server default, 1 MiB).
	MaxPayload int32
	// Auth, if set, requires every client to log in as one of its
	// identities, each confined to its own subjects under Prefix.
	Auth   *Auth
	Prefix string
	// TLSCert and TLSKey, if set, make clients connect with TLS. With
	// TLSCA too, routes between members are TLS as well, both ways
	// verified against TLSCA: every member presents TLSCert, which must
	// then allow server and client authentication.
	TLSCert, TLSKey, TLSCA string
	Logger                 *slog.Logger
}

// Server is a running embedded NATS server.
type Server struct {
	ns        *server.Server
	routeAuth bool
	routeTLS  bool
}

// ErrNotReady is returned when the server does not accept clients in time.
var ErrNotReady = errors.New("natsembed: server not ready for connections")

// Start starts a server and waits until it accepts clients.
func Start(cfg Config) (*Server, error) {
	opts, err := options(cfg)
	if err != nil {
		return nil, err
	}
	ns, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("natsembed: %w", err)
	}
	if cfg.Logger != nil {
		ns.SetLoggerV2(&logAdapter{l: cfg.Logger.With("component", "nats")}, false, false, false)
	}
	ns.Start()
	if !ns.ReadyForConnections(10 * time.Second) {
		ns.Shutdown()
		return nil, ErrNotReady
	}
	return &Server{ns: ns, routeAuth: opts.Cluster.Username != "", routeTLS: opts.Cluster.TLSConfig != nil}, nil
}

func options(cfg Config) (*server.Options, error) {
	listen := cfg.Listen
	if listen == "" {
		listen = "127.0.0.1:-1"
	}
	host, port, err := splitHostPort(listen)
	if err != nil {
		return nil, fmt.Errorf("natsembed: listen %q: %w", listen, err)
	}
	opts := &server.Options{
		ServerName:    cfg.Name,
		Host:          host,
		Port:          port,
		NoSigs:        true,
		NoLog:         cfg.Logger == nil,
		MaxPayload:    cfg.MaxPayload,
		MaxPending:    256 << 20,
		WriteDeadline: 10 * time.Second,
	}
	if cfg.TLSCert != "" || cfg.TLSKey != "" {
		tc, err := server.GenTLSConfig(&server.TLSConfigOpts{CertFile: cfg.TLSCert, KeyFile: cfg.TLSKey})
		if err != nil {
			return nil, fmt.Errorf("natsembed: tls: %w", err)
		}
		opts.TLSConfig, opts.TLS, opts.TLSTimeout = tc, true, 5
	}
	if cfg.Auth != nil {
		if err := cfg.Auth.Validate(); err != nil {
			return nil, err
		}
		opts.Users = cfg.Auth.serverUsers(cfg.Prefix)
	}
	if cfg.Cluster != "" {
		ch, cp, err := splitHostPort(cfg.Cluster)
		if err != nil {
			return nil, fmt.Errorf("natsembed: cluster %q: %w", cfg.Cluster, err)
		}
		name := cfg.ClusterName
		if name == "" {
			name = "agora"
		}
		user, pass, err := cfg.routeCredentials()
		if err != nil {
			return nil, err
		}
		opts.Cluster = server.ClusterOpts{Name: name, Host: ch, Port: cp, Username: user, Password: pass}
		if cfg.TLSCA != "" {
			if cfg.TLSCert == "" || cfg.TLSKey == "" {
				return nil, errors.New("natsembed: route TLS needs a certificate and key as well as the CA")
			}
			tc, err := server.GenTLSConfig(&server.TLSConfigOpts{CertFile: cfg.TLSCert, KeyFile: cfg.TLSKey, CaFile: cfg.TLSCA, Verify: true})
			if err != nil {
				return nil, fmt.Errorf("natsembed: route tls: %w", err)
			}
			// A member both accepts and opens routes: it verifies the
			// other side either way, against the same CA.
			tc.ClientAuth, tc.RootCAs = tls.RequireAndVerifyClientCert, tc.ClientCAs
			opts.Cluster.TLSConfig, opts.Cluster.TLSTimeout = tc, 5
		}
		for _, r := range cfg.Routes {
			r = strings.TrimSpace(r)
			if r == "" {
				continue
			}
			if !strings.Contains(r, "://") {
				r = "nats-route://" + r
			}
			u, err := url.Parse(r)
			if err != nil {
				// url.Error repeats the URL, password included.
				var ue *url.Error
				if errors.As(err, &ue) {
					err = ue.Err
				}
				return nil, fmt.Errorf("natsembed: route %q: %w", redact(r), err)
			}
			// Routes this server dials present the credentials; routes it
			// learns from the others' gossip get them from opts.Cluster.
			if u.User == nil && user != "" {
				u.User = url.UserPassword(user, pass)
			}
			opts.Routes = append(opts.Routes, u)
		}
	}
	return opts, nil
}

// routeCredentials returns the user and password routes must present
// ("" for none).
func (cfg Config) routeCredentials() (string, string, error) {
	user, pass := cfg.ClusterUser, cfg.ClusterPassword
	if user == "" && pass == "" && cfg.Auth != nil {
		m := cfg.Auth.Master()
		user, pass = m.Name, m.Password
	}
	if (user == "") != (pass == "") {
		return "", "", errors.New("natsembed: cluster user and password go together")
	}
	return user, pass, nil
}

// RouteAuth reports whether the route listener requires credentials.
func (s *Server) RouteAuth() bool { return s.routeAuth }

// RouteTLS reports whether routes to and from this server use TLS.
func (s *Server) RouteTLS() bool { return s.routeTLS }

// redact hides a password in a URL for error messages.
func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.User == nil {
		if i := strings.LastIndex(raw, "@"); i >= 0 {
			return "[redacted]@" + raw[i+1:]
		}
		return raw
	}
	return u.Redacted()
}

func splitHostPort(hp string) (string, int, error) {
	h, p, err := net.SplitHostPort(hp)
	if err != nil {
		return "", 0, err
	}
	n, err := strconv.Atoi(p)
	if err != nil || n < -1 || n > 65535 {
		return "", 0, fmt.Errorf("invalid port %q", p)
	}
	if n == 0 {
		n = -1
	}
	return h, n, nil
}

// ClientURL is the URL clients connect to.
func (s *Server) ClientURL() string { return s.ns.ClientURL() }

// RouteURL is the URL other members route to ("" without clustering).
func (s *Server) RouteURL() string {
	a := s.ns.ClusterAddr()
	if a == nil {
		return ""
	}
	return "nats-route://" + a.String()
}

// NumRoutes is the number of route connections to other members (NATS
// pools several per member).
func (s *Server) NumRoutes() int { return s.ns.NumRoutes() }

// NumPeers is the number of other members this server has routes to.
func (s *Server) NumPeers() int { return s.ns.NumRemotes() }

// Shutdown stops the server; it is safe to call twice.
func (s *Server) Shutdown() {
	s.ns.Shutdown()
	s.ns.WaitForShutdown()
}

type logAdapter struct{ l *slog.Logger }

func (a *logAdapter) Noticef(format string, v ...any) { a.l.Debug(fmt.Sprintf(format, v...)) }
func (a *logAdapter) Warnf(format string, v ...any) {
	msg := fmt.Sprintf(format, v...)
	if strings.HasPrefix(msg, "Plaintext passwords detected") {
		// Our identities come from the auth file in plain text by design
		// (the master logs in with its own): no need to warn.
		a.l.Info(msg)
		return
	}
	a.l.Warn(msg)
}
func (a *logAdapter) Fatalf(format string, v ...any) { a.l.Error(fmt.Sprintf(format, v...)) }
func (a *logAdapter) Errorf(format string, v ...any) { a.l.Error(fmt.Sprintf(format, v...)) }
func (a *logAdapter) Debugf(format string, v ...any) { a.l.Debug(fmt.Sprintf(format, v...)) }
func (a *logAdapter) Tracef(format string, v ...any) {}
